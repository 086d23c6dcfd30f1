"""SOP checklist items chased as late stages (docs/adr/checklists.md): each item of the
checklist the incidents service attached is a `checklist:<item>` deadline, counted from the
incident's opening to the item's due time (the Responsible warned at `warn_at` of it, the
Accountable told at it, then one level up; reasons late.checklist.<phase>). Checking the item
meets it; a template replaced moves the items both lists share and meets the dropped ones;
closing the incident meets them all."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from services.notifier.raci.deadline import Deadline, deadline_id
from shared.causation import from_message
from shared.contracts import (
    CloudEvent, IncidentChecklistAttached, IncidentChecklistItemChecked,
)
from shared.store import Tracking

KIND = "checklist"


def item_key(item: str) -> str:
    return f"{KIND}:{item}"


class ChecklistDeadlines:
    """Mixed into NotifierApplication through RaciCommands (get_or_none, clock,
    save_tracked, _staffing_for, _deadline_settings, _deadline, _meet, _incident_known)."""

    def handle_incident_checklist_attached(self, envelope: CloudEvent,
                                           contract: IncidentChecklistAttached,
                                           tracking: Tracking) -> None:
        self.save_tracked(*self._chase_checklist(contract, envelope),
                          tracking=tracking)

    def handle_incident_checklist_item_checked(self, envelope: CloudEvent,
                                               contract: IncidentChecklistItemChecked,
                                               tracking: Tracking) -> None:
        met = self._meet(contract.incident_id, [item_key(contract.item)],
                         f"checked by {contract.by}", envelope)
        self.save_tracked(*met, tracking=tracking)

    def _checklist_over(self, incident_id: str, why: str, envelope: CloudEvent) -> list[Any]:
        """The incident closed: nobody is chased for its checklist any more."""
        noted = self.get_or_none(ChecklistItems.create_id(incident_id))
        if not isinstance(noted, ChecklistItems):
            return []
        return self._meet(incident_id, list(noted.keys), why, envelope,
                          early=False)

    def _chase_checklist(self, contract: IncidentChecklistAttached,
                         envelope: CloudEvent) -> list[Any]:
        incident_id, at = contract.incident_id, self.clock.now()
        cause = from_message(envelope)
        wanted = {item_key(i.item): i for i in contract.items}
        noted = self.get_or_none(ChecklistItems.create_id(incident_id))
        before = list(noted.keys) if isinstance(noted, ChecklistItems) else []
        changed: list[Any] = self._meet(
            incident_id, [k for k in before if k not in wanted],
            f"no longer on the checklist ({contract.template or 'withdrawn'})", envelope,
            early=False)
        if isinstance(noted, ChecklistItems):
            noted.note(contract.template, list(wanted), at, "notifier", cause)
        else:
            noted = ChecklistItems(incident_id=incident_id, template=contract.template,
                                   keys=list(wanted), at=at, actor="notifier", cause=cause)
        changed.append(noted)
        staffing = self._staffing_for(incident_id, KIND)
        if staffing is None or self._incident_known(incident_id) is None:
            return changed  # no matrix row, or notifications held: nobody is chased
        settings = self._deadline_settings()
        for key, item in wanted.items():
            # One at a time, through the repository: a batch sees what it set already.
            found = self.get_or_none(deadline_id(incident_id, key))
            if isinstance(found, Deadline):  # on the list before: towards its new due time
                if found.move(item.due_at, settings["warn_at"], settings["up_after_seconds"],
                              at, "notifier", cause):
                    changed.append(found)
            elif found is None:  # (a MetEarly: checked before this came; not chased)
                changed.append(self._deadline(
                    staffing, key, KIND, item.title, contract.opened_at, item.due_at,
                    staffing.responsible, settings, envelope))
        return changed


class ChecklistItems(Aggregate):
    """The deadline keys of an incident's checklist as last attached: what a replacement
    drops and a closure meets."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return key_id(f"checklist:{incident_id}")

    @event("Noted")
    def __init__(self, incident_id: str, template: str | None, keys: list[str],
                 at: datetime, actor: str, cause: Cause) -> None:
        self.incident_id, self.template, self.keys = incident_id, template, keys

    def note(self, template: str | None, keys: list[str], at: datetime, actor: str,
             cause: Cause) -> None:
        self._renoted(template=template, keys=keys, at=at, actor=actor, cause=cause)

    @event("Renoted")
    def _renoted(self, template: str | None, keys: list[str], at: datetime, actor: str,
                 cause: Cause) -> None:
        self.template, self.keys = template, keys
