"""Which messages carry a one-click acknowledge link, and the link itself: a page asks a
person to take the incident on, so it carries a link that does it as them
(shared/ack_links.py; the incidents service answers it)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.ack_links import SCORE_SALT, AckLinks

# Reasons that ask someone to take the incident on: the first page, the ladder's steps,
# repeats and re-triggers, and the chase of the respond deadline. Messages that only inform
# (resolved, closed) or chase other work carry no link.
ASKS_TO_ACKNOWLEDGE = ("incident.opened", "escalation.", "late.respond.")
# The requester's satisfaction message (support tiers) carries their scoring link instead,
# signed with the same keys in its own scope, valid a week: people answer surveys late.
ASKS_FOR_A_SCORE = "support.score"
SCORE_LINK_LIFETIME = timedelta(days=7)


class PageLinks:
    def __init__(self, links: AckLinks, public_url: str, lifetime: timedelta) -> None:
        self.links, self.lifetime = links, lifetime
        self.base = f"{public_url.rstrip('/')}/v1/ack/"
        self.scores = AckLinks(links.keys, salt=SCORE_SALT)
        self.score_base = f"{public_url.rstrip('/')}/v1/score/"

    @classmethod
    def from_settings(cls, settings: Any) -> "PageLinks | None":
        """None (no links) unless both the key and the public URL are set."""
        if not (settings.ack_link_key and settings.public_url):
            return None
        return cls(AckLinks(settings.ack_link_key), settings.public_url,
                   timedelta(hours=settings.ack_link_hours))

    def url_for(self, delivery: Any, at: datetime) -> str | None:
        """The link for one attempt of a delivery, valid for `lifetime` from `at`; None when
        the message is not a page to a person. Never stored: it is a credential."""
        if carries_score_link(delivery):
            return self.score_base + self.scores.mint(
                incident_id=delivery.incident_id, person=delivery.recipient["handle"],
                delivery_id=str(delivery.id), expires_at=at + SCORE_LINK_LIFETIME)
        if not carries_link(delivery):
            return None
        token = self.links.mint(incident_id=delivery.incident_id,
                                person=delivery.recipient["handle"],
                                delivery_id=str(delivery.id), expires_at=at + self.lifetime)
        return self.base + token

    def shown_for(self, delivery: Any) -> str | None:
        """The link as a message shown again displays it (GET /v1/deliveries/{id}/message):
        where it stood, its token withheld, since whoever opens it acknowledges as the
        recipient. None when the message carried no link."""
        if carries_score_link(delivery):
            return self.score_base + WITHHELD
        return self.base + WITHHELD if carries_link(delivery) else None


WITHHELD = "<one-time-token>"


def carries_link(delivery: Any) -> bool:
    return bool(delivery.recipient) and delivery.reason.startswith(ASKS_TO_ACKNOWLEDGE)


def carries_score_link(delivery: Any) -> bool:
    return bool(delivery.recipient) and delivery.reason == ASKS_FOR_A_SCORE
