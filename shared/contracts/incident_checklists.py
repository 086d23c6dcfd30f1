"""What the incidents service publishes about an incident's SOP checklist: the items attached
with their deadlines, and each item checked. The notifier chases the items not checked in
time as late stages (`checklist:<item>` deadlines)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from shared.contracts.contract import Contract


class ChecklistItemDue(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    item: str  # the item's id in its template, e.g. store_manager_called
    title: str  # as the organisation says it (zh), e.g. 已致电店长
    title_en: str = ""
    step: int = 0  # index of its step (its time box) in the template
    due_at: datetime  # the incident's opening plus the step's time box


class IncidentChecklistAttached(Contract):
    """The incident carries this checklist from now on: at its opening, or when a severity or
    type change called for another template (`replaced` names the one before; an item of both
    keeps its check, and its chase, moved to the new due time). `template` None and no
    items: no template applies any more."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "checklist", "attached"
    incident_id: str
    ref: str
    template: str | None
    severity: str
    opened_at: datetime  # what the items' time boxes count from
    items: list[ChecklistItemDue] = []
    replaced: str | None = None
    at: datetime


class IncidentChecklistItemChecked(Contract):
    """Someone did a checklist item (`late`: after its deadline): its chase ends."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "checklist", "checked"
    incident_id: str
    ref: str
    item: str
    by: str
    note: str = ""
    due_at: datetime
    late: bool
    at: datetime
