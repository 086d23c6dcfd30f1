"""The SLA policies applied, mixed into IncidentsApplication: the deadlines an opening, a
re-grade or a reopening gets, the closure clock started on resolution, the pause while
awaiting the requester, and what the SLA watch records (at risk, then missed)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from shared.causation import from_timer

from services.incidents.domain import Incident, Severity
from services.incidents.domain.sla import KINDS, SlaClocks
from services.incidents.sla_policies import Policy, SlaPolicies

WATCH = "sla watch"


class SlaClockCommands:
    """Needs the application's clock, sla_policies, get_or_none, save and _change."""

    sla_policies: SlaPolicies

    def policy_of(self, incident: Incident) -> Policy:
        return self.sla_policies.policy(incident.severity, incident.sla_type)

    def sla_clocks(self, severity: Severity | str, incident_type: str | None,
                   start: datetime, kinds: tuple[str, ...] = ("respond", "resolve")
                   ) -> SlaClocks:
        """The respond and resolve deadlines the policy counts from `start`, with the
        at-risk times of `kinds` (a reopening warns about its new resolve clock only)."""
        policy = self.sla_policies.policy(severity, incident_type)
        (respond, risk_respond), (resolve, risk_resolve) = (
            policy.due("respond", start), policy.due("resolve", start))  # type: ignore[misc]
        risks = {k: t for k, t in (("respond", risk_respond), ("resolve", risk_resolve))
                 if t is not None and k in kinds}
        return SlaClocks(respond, resolve, risks, None if _shipped(policy) else policy.name)

    def start_close_clock(self, incident: Incident, at: datetime,
                          cause: dict[str, Any]) -> None:
        """On resolution, when the policy has a closure target."""
        due = self.policy_of(incident).due("close", at)
        if due is not None:
            incident.start_close_clock(due[0], due[1], at, WATCH, cause)

    def await_requester(self, id_or_ref: str, reason: str, by: str,
                        cause: dict[str, Any]) -> dict:
        return self._change(id_or_ref,  # type: ignore[attr-defined]
                            lambda i, at: i.pause_sla(reason, by, at, cause))

    def requester_answered(self, id_or_ref: str, by: str, cause: dict[str, Any]) -> dict:
        def resume(incident: Incident, at: datetime) -> None:
            calendar = self.policy_of(incident).calendar
            incident.resume_sla(calendar, by, at, cause)

        return self._change(id_or_ref, resume)  # type: ignore[attr-defined]

    def record_sla_breaches(self, incident_id: UUID) -> list[str]:
        """Record every deadline this incident has missed by now and every one now at risk
        (the SLA watch calls it). Returns the missed kinds, then `<kind>.at_risk` ones."""
        incident = self.get_or_none(incident_id)  # type: ignore[attr-defined]
        if not isinstance(incident, Incident):
            return []
        at, cause = self.clock.now(), from_timer("incidents.sla_watch")  # type: ignore[attr-defined]
        recorded = [kind for kind in KINDS
                    if incident.record_sla_breach(kind, at, WATCH, cause)]
        recorded += [f"{kind}.at_risk" for kind in KINDS
                     if incident.record_sla_at_risk(kind, at, WATCH, cause)]
        if recorded:
            self.save(incident)  # type: ignore[attr-defined]
        return recorded


def _shipped(policy: Policy) -> bool:
    return policy.name.endswith(" default")
