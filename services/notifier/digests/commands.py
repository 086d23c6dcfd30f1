"""Digest commands, mixed into NotifierApplication: an incident a digest policy chose is
noted in each of its recipients' current digests (instead of paging them), its resolution or
closing in the digests current then, and the send worker's command sends a due digest once,
through the ordinary delivery path, carrying what is still open into the next period."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifier.config_cache import Routing
from services.notifier.digests.aggregate import Digest, DigestedIncident, ItemStatus
from services.notifier.digests.content import digest_content
from services.notifier.domain import ChannelNotFound, Delivery, EscalationPolicy
from services.notifier.domain.cadence import Cadence
from services.notifier.messages.digest import digest_message
from services.notifier.recipients import resolve
from shared.causation import from_timer
from shared.errors import NotFound

log = logging.getLogger(__name__)

DIGEST_WORKER = "notifier.send_digests"


class DigestNotFound(NotFound):
    pass


class Digesting:
    """Needs the application's get_or_none, save, config_cache, org_chart, max_attempts and
    _claim_at_once."""

    # -- at opening, resolution and closing -----------------------------------------------
    def digest_opening(self, incident: dict[str, str], policies: list[EscalationPolicy],
                       routing: Routing, at: datetime, actor: str, cause: dict,
                       existing: set[UUID]) -> list[Any]:
        """What to save so that the digest policies' step-0 recipients read about the
        incident in their next digest; nothing when none chose it, or when it was noted
        before (a redelivered message)."""
        digesting = [p for p in policies if p.digests]
        if not digesting:
            return []
        digested_id = DigestedIncident.create_id(incident["incident_id"])
        if digested_id in existing or self.get_or_none(digested_id) is not None:
            return []
        chart = self.org_chart()
        unit = chart.unit_for(incident.get("entity", ""))
        item = {**{k: incident[k] for k in ("incident_id", "ref", "severity", "title",
                                            "entity")},
                "unit": unit["key"] if unit else None,
                "unit_name": unit["name"] if unit else None, "opened_at": at.isoformat()}
        recipients: dict[str, dict[str, Any]] = {}
        for policy in digesting:
            for r in resolve(policy.ladder.targets(0), incident, at, routing, self).recipients:
                person = chart.person(r.person["handle"]) if r.person else None
                zone = person.get("time_zone") if person else None
                cadence = policy.cadence(zone)
                recipients.setdefault(f"{policy.digest}:{r.key}", {
                    **r.told(), "key": r.key, "person": r.person, "policy": policy.name,
                    "time_zone": cadence.zone.key, "every": policy.digest,
                    "digest_at": policy.digest_at, "digest_weekday": policy.digest_weekday})
        digested = DigestedIncident.record(item=item, recipients=list(recipients.values()),
                                           at=at, actor=actor, cause=cause)
        digests = []
        for recipient in recipients.values():
            digest = self._collecting(recipient, at, actor, cause)
            digest.fired(item, at, actor, cause)
            digests.append(digest)
        log.info("incident %s (%s): noted for %d digest recipient(s) instead of paging",
                 incident["ref"], incident["severity"], len(digests))
        return [digested, *digests]

    def digest_end(self, incident_id: str, status: ItemStatus, at: datetime, actor: str,
                   cause: dict) -> list[Any]:
        """The incident was resolved or closed: noted in the digests it went into (in their
        current periods). Nothing when it went into none, or ended before."""
        digested = self.get_or_none(DigestedIncident.create_id(incident_id))
        if not isinstance(digested, DigestedIncident) or not digested.end(status, at, actor,
                                                                          cause):
            return []
        digests = []
        for recipient in digested.recipients:
            digest = self._collecting(recipient, at, actor, cause)
            digest.ended(digested.item, status, at, actor, cause)
            digests.append(digest)
        return [digested, *digests]

    def _collecting(self, recipient: dict[str, Any], at: datetime, actor: str,
                    cause: dict) -> Digest:
        """The recipient's digest for the period `at` falls in; when that one was sent
        already (its worker ran while this message waited), the next one."""
        cadence = cadence_of(recipient)
        start, end = cadence.period(at)
        while True:
            digest = self.get_or_none(Digest.create_id(recipient["every"], recipient["key"],
                                                       start))
            if digest is None:
                return Digest.start(recipient=recipient, every=recipient["every"],
                                    period_start=start, period_end=end, at=at, actor=actor,
                                    cause=cause)
            if not digest.sent:
                return digest
            start, end = cadence.following(end)

    # -- the send worker's command --------------------------------------------------------
    def send_digest(self, digest_id: UUID, at: datetime) -> str:
        """Send a due digest: its message is scheduled (and claimed at once when there is
        room) in the save that marks it sent, together with the next period's digest of what
        is still open. Refused when it was sent already (another replica, a restart)."""
        digest = self.get_or_none(digest_id)
        if not isinstance(digest, Digest):
            raise DigestNotFound(f"digest {digest_id} does not exist")
        digest.check_collecting()
        cause = from_timer(DIGEST_WORKER)
        recipient = digest.recipient
        content = digest_content(digest)
        routing, _ = self.config_cache.current()
        try:
            routing.channel(recipient["channel_id"])
            channel_found = True
        except ChannelNotFound:
            channel_found = False
            log.warning("digest %s: channel %s no longer exists; sent to nobody", digest.id,
                        recipient["channel_name"])
        delivery = self._digest_delivery(digest, content, at, cause) if channel_found else None
        digest.send(delivery.id if delivery else None, content["counts"], at, DIGEST_WORKER,
                    cause)
        carried = self._carry(digest, at, cause)
        if delivery is not None:
            self._claim_at_once([delivery], routing, at)
        self.save(*(a for a in (digest, delivery, carried) if a is not None))
        counts = content["counts"]
        return (f"sent to {recipient['key']}: {counts['fired']} fired, {counts['open']} open, "
                f"{counts['closed']} closed")

    def _digest_delivery(self, digest: Digest, content: dict[str, Any], at: datetime,
                         cause: dict) -> Delivery:
        recipient, person = digest.recipient, digest.recipient.get("person")
        message = digest_message(content, (person or {}).get("language", "zh"))
        reason = f"digest.{digest.every}"
        incident_id = f"digest:{digest.id}"
        severities = sorted(i["severity"] for i in digest.items.values())
        return Delivery(
            incident_id=incident_id, ref=content["ref"],
            severity=severities[0] if severities else "P3", title=message.subject,
            entity=recipient["key"], occurred_at=digest.period_end,
            channel_id=recipient["channel_id"], channel_name=recipient["channel_name"],
            reason=reason, max_attempts=self.max_attempts, at=at, actor=DIGEST_WORKER,
            cause=cause, recipient=person, target=recipient["target"],
            about={"digest": content, "message": {
                "subject": message.subject, "text": message.text, "markdown": message.markdown,
                "html": message.html, "template": message.template}})

    def _carry(self, digest: Digest, at: datetime, cause: dict) -> Digest | None:
        """What is still open reappears in the next period's digest (created for it if no
        incident started it yet)."""
        still_open = digest.still_open()
        if not still_open:
            return None
        cadence = cadence_of(digest.recipient)
        start, end = cadence.following(digest.period_end)
        following = self.get_or_none(Digest.create_id(digest.every, digest.recipient["key"],
                                                      start))
        if following is None:
            following = Digest.start(recipient=digest.recipient, every=digest.every,
                                     period_start=start, period_end=end, at=at,
                                     actor=DIGEST_WORKER, cause=cause)
        for item in still_open:
            following.carried({k: v for k, v in item.items() if k not in ("fired", "status")},
                              at, DIGEST_WORKER, cause)
        return following

    # -- queries --------------------------------------------------------------------------
    def digest(self, digest_id: UUID) -> dict[str, Any]:
        found = self.get_or_none(digest_id)
        if not isinstance(found, Digest):
            raise DigestNotFound(f"digest {digest_id} does not exist")
        return {"id": found.id, **digest_content(found), "sent_at": found.sent_at,
                "delivery_id": found.delivery_id}


def cadence_of(recipient: dict[str, Any]) -> Cadence:
    return Cadence.of(recipient["every"], recipient["digest_at"], recipient["digest_weekday"],
                      recipient["time_zone"])
