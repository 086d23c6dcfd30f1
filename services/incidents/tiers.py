"""Support tiers, mixed into IncidentsApplication: the notifier's routing and escalations
recorded on the incident (whoever the tier's team has on call becomes Responsible), hand-overs
with their package, and the requester's satisfaction score through a signed link."""
from __future__ import annotations

from typing import Any

from shared.ack_links import AckClaims
from shared.contracts import CloudEvent, SupportTierEntered
from shared.store import Tracking

from services.incidents.queries import state_of


class SupportTiers:
    """Needs the application's clock, save, _change, _incident, _record_fact and
    retry_on_conflict."""

    def handle_support_tier_entered(self, envelope: CloudEvent, fact: SupportTierEntered,
                                    tracking: Tracking) -> None:
        self._record_fact(  # type: ignore[attr-defined]
            envelope, fact.incident_id, tracking, lambda i, at, actor, cause: i.enter_tier(
                fact.tier, fact.group, fact.team, fact.why, fact.responsible, fact.next_tier,
                fact.due_at, at, actor, cause))

    def hand_over(self, id_or_ref: str, package: dict[str, Any], by: str, note: str,
                  cause: dict[str, Any]) -> dict[str, Any]:
        return self._change(id_or_ref,  # type: ignore[attr-defined]
                            lambda i, at: i.hand_over(package, by, note, at, cause))

    def score_link(self, link: AckClaims) -> dict[str, Any]:
        """What a satisfaction link's page shows: the incident, and when the link was used."""
        incident = self._incident(link.incident_id)  # type: ignore[attr-defined]
        return {"incident": state_of(incident), "used_at": incident.used_links.get(link.link_id)}

    def rate(self, link: AckClaims, score: int, comment: str,
             cause: dict[str, Any]) -> dict[str, Any]:
        """The requester's score (verified link): recorded once per link."""
        def attempt() -> dict[str, Any]:
            incident = self._incident(link.incident_id)  # type: ignore[attr-defined]
            incident.rate(link.link_id, link.person, score, comment,
                          self.clock.now(), cause)  # type: ignore[attr-defined]
            self.save(incident)  # type: ignore[attr-defined]
            return {"incident": state_of(incident), "score": incident.score}

        return self.retry_on_conflict(attempt)  # type: ignore[attr-defined]


