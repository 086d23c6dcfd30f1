"""The incidents application: alerts in, incidents out; people acknowledge and resolve, the
notifier and the CAPA case add to each incident's story. Each use case is a mixin: alerts
(alert_intake.py; grouping and storms in triage.py), acknowledging (acknowledging.py), the people's lifecycle (lifecycle.py),
facts from the notifier (facts.py, holds.py) and the CAPA case (capa_facts.py), reads
(queries.py)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.clock import Clock
from shared.store import ServiceApplication

from services.incidents.acknowledging import Acknowledging
from services.incidents.alert_intake import AlertIntake, AlertNotRaisedYet
from services.incidents.board_commands import BoardCommands
from services.incidents.capa_facts import CapaFacts
from services.incidents.checklist_templates import ChecklistTemplates
from services.incidents.checklists import ChecklistCommands
from services.incidents.domain import GroupRule, Incident, RaciRole, StormRate, StormRule
from services.incidents.closing import ClosingCommands
from services.incidents.domain import ClosingPolicy
from services.incidents.facts import FactRecording, producer_of
from services.incidents.holds import HoldFacts
from services.incidents.intake.commands import IntakeCommands
from services.incidents.lifecycle import LifecycleCommands
from services.incidents.progress_cadence import ProgressCadence
from services.incidents.queries import REF, IncidentQueries, state_of
from services.incidents.triage import AlertTriage
from services.incidents.sla_clocks import SlaClockCommands
from services.incidents.sla_policies import SlaPolicies, default_policies
from services.incidents.tiers import SupportTiers

# What other modules and tests import from here.
__all__ = ["IncidentsApplication", "AlertNotRaisedYet", "REF", "producer_of", "state_of"]


class IncidentsApplication(AlertIntake, AlertTriage, Acknowledging, ProgressCadence,
                           LifecycleCommands,
                           FactRecording, HoldFacts, CapaFacts, SlaClockCommands,
                           ClosingCommands, IncidentQueries, IntakeCommands, SupportTiers,
                           ChecklistCommands, BoardCommands, ServiceApplication):
    def __init__(self, env: dict[str, str] | None, clock: Clock,
                 grouping: GroupRule | None = None, storm: StormRule | None = None,
                 sla_policies: SlaPolicies | None = None,
                 closing: ClosingPolicy | None = None,
                 checklists: ChecklistTemplates | None = None) -> None:
        self.clock = clock
        if checklists is not None:  # SOP checklists (checklists.py); none without a file
            self.checklist_templates = checklists
        self.sla_policies = sla_policies or default_policies()
        # How resolved incidents close, by severity (shipped defaults unless configured).
        self.closing_policy = closing or ClosingPolicy()
        self._legacy_last: dict[str, int] = {}  # ref scope → last number RefCounter issued
        self.grouping, self.storm = grouping or GroupRule(), storm or StormRule()
        self._storm_rate = StormRate(self.storm.window)
        self._storm_id: UUID | None = None  # the storm this process last gathered under
        self._storm_cache: Incident | None = None  # that storm incident, as last stored
        super().__init__(env)

    # -- commands (API) ------------------------------------------------------------------
    def resolve(self, id_or_ref: str, by: str, summary: str, cause: dict[str, Any],
                verdict: str = "confirmed") -> dict:
        def resolve(incident: Incident, at: datetime) -> None:
            incident.resolve(by, summary, at, by, cause, verdict, self.closing_policy)
            if incident.closed_at is None:  # not closed by it (a false positive, its case)
                self.start_close_clock(incident, at, cause)

        return self._change(id_or_ref, resolve)

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
