"""SOP checklist items chased as late stages (docs/adr/checklists.md): each item of the
checklist the incidents service attached is a `checklist:<item>` deadline, counted from the
incident's opening to the item's due time (the Responsible warned at `warn_at` of it, the
Accountable told at it, then one level up; reasons late.checklist.<phase>). Checking the item
meets it; a template replaced moves the items both lists share and meets the dropped ones;
closing the incident ends them all. An incident whose notifications were held is chased from
their release, each item with the time it had from the opening (as respond and resolve are)."""
from __future__ import annotations

from datetime import datetime, timedelta
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
        listed = [{"key": k, "title": i.title,
                   "seconds": (i.due_at - contract.opened_at).total_seconds()}
                  for k, i in wanted.items()]
        changed: list[Any] = self._meet(
            incident_id, [k for k in before if k not in wanted],
            f"no longer on the checklist ({contract.template or 'withdrawn'})", envelope,
            early=False)
        if isinstance(noted, ChecklistItems):
            noted.note(contract.template, listed, at, "notifier", cause)
        else:
            noted = ChecklistItems(incident_id=incident_id, template=contract.template,
                                   items=listed, at=at, actor="notifier", cause=cause)
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


    def _checklist_released(self, staffing: Any, settings: dict[str, Any], at: datetime,
                            actor: str, cause: Cause) -> list[Deadline]:
        """A held incident's checklist chases, set when its hold is released: each item has
        from then the time it had from the opening (nobody was told meanwhile)."""
        incident_id = staffing.incident_id
        noted = self.get_or_none(ChecklistItems.create_id(incident_id))
        if not isinstance(noted, ChecklistItems):
            return []
        return [staffing.deadline(key=i["key"], kind=KIND, subject=i["title"], started_at=at,
                                  due_at=at + timedelta(seconds=i["seconds"]),
                                  responsible=staffing.responsible, settings=settings, at=at,
                                  actor=actor, cause=cause)
                for i in noted.items if not self._started(incident_id, i["key"])]


class ChecklistItems(Aggregate):
    """An incident's checklist items as last attached (deadline key, title, seconds from the
    opening): what a replacement drops, a closure meets and a hold's release chases."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return key_id(f"checklist:{incident_id}")

    @event("Noted")
    def __init__(self, incident_id: str, template: str | None, items: list[dict[str, Any]],
                 at: datetime, actor: str, cause: Cause) -> None:
        self.incident_id, self.template, self.items = incident_id, template, items

    @property
    def keys(self) -> list[str]:
        return [i["key"] for i in self.items]

    def note(self, template: str | None, items: list[dict[str, Any]], at: datetime,
             actor: str, cause: Cause) -> None:
        self._renoted(template=template, items=items, at=at, actor=actor, cause=cause)

    @event("Renoted")
    def _renoted(self, template: str | None, items: list[dict[str, Any]], at: datetime,
                 actor: str, cause: Cause) -> None:
        self.template, self.items = template, items
