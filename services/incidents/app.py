"""The incidents application: alerts in, incidents out; people acknowledge and resolve, the
notifier and the CAPA case add to each incident's story. Each use case is a mixin: alerts
(alert_intake.py), acknowledging (acknowledging.py), the people's lifecycle (lifecycle.py),
facts from the notifier (facts.py, holds.py) and the CAPA case (capa_facts.py), reads
(queries.py)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.causation import from_timer
from shared.clock import Clock
from shared.store import ServiceApplication

from services.incidents.acknowledging import Acknowledging
from services.incidents.alert_intake import AlertIntake, AlertNotRaisedYet
from services.incidents.capa_facts import CapaFacts
from services.incidents.domain import Incident, RaciRole
from services.incidents.facts import FactRecording, producer_of
from services.incidents.holds import HoldFacts
from services.incidents.lifecycle import LifecycleCommands
from services.incidents.queries import REF, IncidentQueries, state_of
from services.incidents.tiers import SupportTiers

# What other modules and tests import from here.
__all__ = ["IncidentsApplication", "AlertNotRaisedYet", "REF", "producer_of", "state_of"]


class IncidentsApplication(AlertIntake, Acknowledging, LifecycleCommands, FactRecording,
                           HoldFacts, CapaFacts, SupportTiers, IncidentQueries,
                           ServiceApplication):
    def __init__(self, env: dict[str, str] | None, clock: Clock) -> None:
        self.clock = clock
        self._legacy_last: dict[str, int] = {}  # ref scope → last number RefCounter issued
        super().__init__(env)

    # -- commands (API) ------------------------------------------------------------------
    def resolve(self, id_or_ref: str, by: str, summary: str, cause: dict[str, Any],
                verdict: str = "confirmed") -> dict:
        return self._change(id_or_ref, lambda i, at: i.resolve(by, summary, at, by, cause,
                                                               verdict))

    def assign(self, id_or_ref: str, role: str, person: str, by: str,
               cause: dict[str, Any]) -> dict:
        return self._change(id_or_ref, lambda i, at: i.assign(RaciRole(role), person, at, by,
                                                              cause))

    def archive(self, id_or_ref: str, actor: str, cause: dict[str, Any]) -> dict:
        return self._change(id_or_ref, lambda i, at: i.archive(at, actor, cause))

    def _change(self, id_or_ref: str, command: Callable[[Incident, datetime], None]) -> dict:
        def attempt() -> dict:
            incident = self._incident(id_or_ref)
            command(incident, self.clock.now())
            self.save(incident)
            return self.incident(str(incident.id))

        return self.retry_on_conflict(attempt)

    def record_sla_breaches(self, incident_id: UUID) -> list[str]:
        """Record every deadline this incident has missed by now (the SLA watch calls it)."""
        incident = self.get_or_none(incident_id)
        if not isinstance(incident, Incident):
            return []
        at, cause = self.clock.now(), from_timer("incidents.sla_watch")
        missed = [kind for kind in ("respond", "resolve")
                  if incident.record_sla_breach(kind, at, "sla watch", cause)]
        if missed:
            self.save(incident)
        return missed
