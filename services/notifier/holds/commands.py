"""Holding an incident's notifications: the decision at opening (mixed into
NotifierApplication, which tells step 0 when nothing holds it), the release worker's
command, and the end of an incident's alert when it is resolved or closed."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from uuid import UUID

from services.notifier.config_cache import Routing
from services.notifier.domain import EarlyStop, Escalation, Reason
from services.notifier.holds.decision import (
    hold_at, recheck_at, routed, trial_hold,
)
from services.notifier.holds.firing import FiringAlerts
from services.notifier.holds.opening import Opening, OpeningNotFound, OpeningStatus
from services.notifier.holds.projection import OpeningsProjection
from services.notifier.quiet.cache import QuietRules
from services.notifier.quiet.inhibitions import InhibitionRule
from shared.causation import from_timer

log = logging.getLogger(__name__)

RELEASE_WORKER = "notifier.release_held"
OPENED = str(Reason.INCIDENT_OPENED)


class Holding:
    @cached_property
    def firing_alerts(self) -> FiringAlerts:
        datastore = getattr(self.recorder, "datastore", None)  # type: ignore[attr-defined]
        schema = (OpeningsProjection().version_schema(datastore.schema)
                  if datastore is not None else None)
        return FiringAlerts(self, schema)

    def quiet_now(self) -> QuietRules:
        """The routing tree and quiet rules to decide with; in a consumer batch checked
        against the store once, like the configuration (app._deciding)."""
        batch = self._deciding_batch  # type: ignore[attr-defined]
        if not getattr(batch, "active", False):
            return self.quiet_cache.current()  # type: ignore[attr-defined]
        if getattr(batch, "quiet", None) is None:
            batch.quiet = self.quiet_cache.current()  # type: ignore[attr-defined]
        return batch.quiet

    def hold_at_opening(self, incident_id: str, labels: Mapping[str, str], trial: bool,
                        rules: QuietRules, at: datetime) -> dict[str, Any] | None:
        if trial:
            return trial_hold()
        firing = self.firing_alerts.around(labels, incident_id, rules.of(InhibitionRule))
        return hold_at(labels, at, rules, firing)

    def hold_on_ladder(self, incident_id: str, at: datetime) -> dict[str, Any] | None:
        """What holds a climbing ladder's due step at `at`: a silence or maintenance window
        over the labels the incident opened with, decided as at opening (hold_at). Inhibition
        is the opening's alone: a ladder already climbing has told people, and the firing
        set would be read for every step. None also for incidents opened before openings
        were recorded (no labels)."""
        opening = self.get_or_none(Opening.create_id(incident_id))  # type: ignore[attr-defined]
        if not isinstance(opening, Opening):
            return None
        hold = hold_at(opening.labels, at, self.quiet_now(), firing=())
        return hold if recheck_at(hold) is not None else None

    def record_opening(self, incident: dict[str, str], labels: dict[str, str], trial: bool,
                       routes: list[dict], policies: list[Any], hold: dict[str, Any] | None,
                       at: datetime, cause: dict, stopped_early: bool,
                       sla: dict[str, float]) -> Opening:
        """`stopped_early`: an acknowledgement or resolution may have overtaken the opening
        (EarlyStop); a resolution means its alert fires no more. `sla`: seconds it had to
        be acknowledged and resolved (given again from a release)."""
        if hold is not None:
            log.info("incident %s: notifications held by %s %s", incident["ref"], hold["kind"],
                     hold.get("name") or hold.get("id"))
        opening = Opening.record(
            incident=incident, labels=labels, trial=trial, routes=routes,
            policy_ids=[str(p.id) for p in policies], hold=hold, recheck_at=recheck_at(hold),
            sla=sla, at=at, actor="notifier", cause=cause)
        stop = (self.get_or_none(Escalation.create_id(incident["incident_id"]))  # type: ignore[attr-defined]
                if stopped_early else None)
        if isinstance(stop, EarlyStop) and not stop.why.startswith("acknowledged"):
            opening.end(stop.why, at, "notifier", cause)
        return opening

    def held_before(self, opening_id: UUID) -> bool:
        """A redelivered opening: whether the first decision held it (then it stays so)."""
        stored = self.get_or_none(opening_id)  # type: ignore[attr-defined]
        return isinstance(stored, Opening) and stored.status is not OpeningStatus.TOLD

    def end_opening(self, incident_id: str, why: str, at: datetime, actor: str,
                    cause: dict) -> Opening | None:
        """The incident was resolved or closed: its alert stops firing (and inhibiting)."""
        opening = self.get_or_none(Opening.create_id(incident_id))  # type: ignore[attr-defined]
        if isinstance(opening, Opening) and opening.end(why, at, actor, cause):
            return opening
        return None

    # -- worker command -------------------------------------------------------------------
    def release_held(self, incident_id: str, seen_version: int, at: datetime) -> str:
        """Look at a held incident's rules again (its hold ended, or what held it changed):
        still held, it records what holds it now; acknowledged or resolved meanwhile, it is
        dropped; else step 0 is told now and the ladder starts from now. Refused when the
        opening moved on since the read model showed `seen_version`."""
        opening = self.get_or_none(Opening.create_id(incident_id))  # type: ignore[attr-defined]
        if not isinstance(opening, Opening):
            raise OpeningNotFound(f"incident {incident_id} has no opening")
        opening.check_seen(seen_version)
        opening.check_held()
        cause = {**from_timer(RELEASE_WORKER), "correlation_id": opening.correlation_id}
        stopped = self.get_or_none(Escalation.create_id(incident_id))  # type: ignore[attr-defined]
        if isinstance(stopped, EarlyStop):
            opening.drop(stopped.why, at, RELEASE_WORKER, cause)
            self.save(opening)  # type: ignore[attr-defined]
            return f"dropped: {stopped.why}"
        rules = self.quiet_cache.current()  # type: ignore[attr-defined]
        hold = self.hold_at_opening(incident_id, opening.labels, False, rules, at)
        if hold is not None:
            opening.still_held(hold, recheck_at(hold), at, RELEASE_WORKER, cause)
            self.save(opening)  # type: ignore[attr-defined]
            return f"still held by {hold['kind']} {hold.get('name') or hold.get('id')}"
        incident = released(opening.incident, opening.sla, at)
        staffed = self.raci_staffed(incident_id)  # type: ignore[attr-defined]

        def created_by_it(routing: Routing) -> list[UUID]:
            policies, _ = routed(rules, opening.labels, routing.policies())
            return [Escalation.create_id(incident_id),
                    *(r.delivery_id(incident_id, OPENED)
                      for r in self._told_at_opening(  # type: ignore[attr-defined]
                          policies, incident, at, routing, staffed))]

        routing, existing = self.config_cache.current(also=created_by_it)  # type: ignore[attr-defined]
        policies, routes = routed(rules, opening.labels, routing.policies())
        opening.release(routes, [str(p.id) for p in policies], [p.name for p in policies], at,
                        RELEASE_WORKER, cause)
        told = self._tell(incident, policies, routing, at, at,  # type: ignore[attr-defined]
                          RELEASE_WORKER, cause, existing, staffed)
        chased = self.raci_deadlines_from(  # type: ignore[attr-defined]
            incident_id, opening.sla, at, RELEASE_WORKER, cause)
        self.save(opening, *told, *chased)  # type: ignore[attr-defined]
        return "released"

    # -- queries --------------------------------------------------------------------------
    def opening(self, incident_id: str) -> dict[str, Any]:
        """What was decided when the incident opened and since: labels, routes, holds."""
        events = self.stored_events(Opening.create_id(incident_id))  # type: ignore[attr-defined]
        if not events:
            raise OpeningNotFound(f"the notifier has not seen incident {incident_id} open")
        first, current = events[0], self.get_or_none(Opening.create_id(incident_id))  # type: ignore[attr-defined]
        history = []
        for e in events:
            entry = {"at": e.at, "event": type(e).__name__, "actor": e.actor}
            for name in ("hold", "routes", "policy_ids", "why", "held_seconds"):
                if hasattr(e, name):
                    entry[name] = getattr(e, name)
            history.append(entry)
        return {"incident_id": current.incident_id, "ref": current.ref,
                "labels": current.labels, "trial": current.trial,
                "status": str(current.status), "firing": current.firing,
                "hold": current.hold if current.status is not OpeningStatus.TOLD else None,
                "recheck_at": current.recheck_at, "routes": first.routes,
                "policy_ids": first.policy_ids, "history": history}


def released(incident: dict[str, Any], sla: dict[str, float], at: datetime) -> dict[str, Any]:
    """The incident as told at its release: its deadlines count from the release, with the
    time it had (as raci_deadlines_from sets them), so its messages show those."""
    facts = incident.get("facts")
    if facts is None:
        return incident
    moved = {f"{kind}_by": (at + timedelta(seconds=seconds)).isoformat()
             for kind, seconds in sla.items() if kind in ("respond", "resolve")}
    return {**incident, "facts": {**facts, **moved}}

