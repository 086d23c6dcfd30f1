"""Stage time boxes (方案制定中, 执行中, 验证中 per severity, `deadlines.stages`): a stage the
incident enters sets its deadline, chased like the others (reasons late.planning.warning …);
entering a later stage, or closing, meets it."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.notifier.raci.rules import Stage
from shared.contracts import CloudEvent, IncidentStageEntered
from shared.store import Tracking

ORDER = list(Stage)


class StageDeadlines:
    """Mixed into NotifierApplication through RaciCommands (uses CapaDeadlines' steps)."""

    def handle_incident_stage_entered(self, envelope: CloudEvent,
                                      contract: IncidentStageEntered, tracking: Tracking) -> None:
        self.save_tracked(*self._enter_stage(contract.incident_id, contract.stage, contract.at,
                                             contract.due_by, envelope), tracking=tracking)

    def _enter_stage(self, incident_id: str, stage: str | None, entered_at: datetime,
                     due_by: datetime | None, envelope: CloudEvent) -> list[Any]:
        """The earlier stages are over (met, or met early should their start still come);
        this one's deadline is set once, when its severity has a time box for it."""
        if stage not in ORDER:
            return []
        key = f"stage:{stage}"
        earlier = [f"stage:{s}" for s in ORDER[:ORDER.index(Stage(stage))]]
        met = self._meet(incident_id, earlier, f"entered {stage}", envelope)
        staffing = self._staffing_for(incident_id, key)
        if staffing is None or self._started(incident_id, key):
            return met
        settings = self._deadline_settings()
        box = settings["stages"].get(staffing.severity, {}).get(stage)
        if due_by is None and box is None:
            return met
        due_at = due_by or entered_at + timedelta(seconds=box)
        return [*met, self._deadline(staffing, key, stage, stage, entered_at, due_at,
                                     staffing.responsible, settings, envelope)]

    def _stages_over(self, incident_id: str, why: str, envelope: CloudEvent) -> list[Any]:
        return self._meet(incident_id, [f"stage:{s}" for s in ORDER], why, envelope,
                          early=False)
