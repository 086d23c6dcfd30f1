"""The incident's time-boxed stages on the bus: each CAPA step that leaves the incident in
方案制定中, 执行中 or 验证中 is published as IncidentStageEntered (the notifier chases a stage
that runs past its time box). Stages only move forward, so the first message naming a stage
is its entry."""
from __future__ import annotations

from typing import Any

from shared.contracts import IncidentStageEntered

from services.incidents.domain import Incident, Status

TIME_BOXED = (Status.PLANNING, Status.EXECUTING, Status.VERIFYING)


def stage_entered(e: Any) -> IncidentStageEntered | None:
    """None (the event stays private) when the step leaves it in no time-boxed stage."""
    if e.status not in TIME_BOXED:
        return None
    return IncidentStageEntered(incident_id=str(e.originator_id), stage=e.status, at=e.at)


STAGE_STEPS = {Incident.CapaOpened: stage_entered, Incident.CapaStepRecorded: stage_entered,
               Incident.ActionVerified: stage_entered}
