"""The SOP checklist an incident carries (docs/checklists.md): attached when it opens, and
again when a severity or type change calls for another template; each item has a deadline
counted from the opening and is checked once by a person (who, when, note)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.core import IncidentCore
from services.incidents.domain.vocabulary import Status
from shared.errors import DomainError, NotFound


class IncidentChecklist(IncidentCore):
    """State the Incident's own events never set starts from these class defaults (no
    annotations: eventsourcing would take them for fields)."""

    checklist = None  # {"template", "severity", "type", "steps", "items", "attached_at"}
    checked = None  # item id → {"by", "at", "note", "late"}; None until one is checked

    def attach_checklist(self, template: dict[str, Any] | None, items: list[dict[str, Any]],
                         at: datetime, actor: str, cause: dict[str, Any]) -> None:
        """`template` (name, severity, type, steps with their time boxes) and its `items` (id,
        step, title, role; each due at the opening plus its step's box); None withdraws the
        checklist (no template applies any more). Items checked under an earlier template
        stay checked when the new one has them."""
        self._checklist_attached(
            ref=self.ref, template=template, items=items,  # type: ignore[attr-defined]
            opened_at=self.opened_at,  # type: ignore[attr-defined]
            replaced=(self.checklist or {}).get("name"), at=at, actor=actor, cause=cause)

    @event("ChecklistAttached")
    def _checklist_attached(self, ref: str, template: dict[str, Any] | None,
                            items: list[dict[str, Any]], replaced: str | None,
                            opened_at: datetime,
                            at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.checklist = None if template is None else {
            **template, "items": due_items(template, items, opened_at), "attached_at": at}

    def check_item(self, item: str, by: str, note: str, manager: bool, at: datetime,
                   cause: dict[str, Any]) -> dict[str, Any]:
        """Refused for an archived incident, an item not on its checklist, one checked
        already, or one that needs the manager role from someone without it."""
        if self.status is Status.ARCHIVED:  # type: ignore[attr-defined]
            self.check_not_finished("have its checklist checked")
        found = self.checklist_item(item)
        self.check_not_checked(found)
        if found.get("role") == "manager" and not manager:
            raise ItemNeedsManager(
                f"incident {self._ref}: checklist item {item!r} ({found['title']['en']}) "
                "is checked by a manager; this caller is a responder")
        self._checklist_item_checked(
            ref=self.ref, item=item, title=found["title"], by=by,  # type: ignore[attr-defined]
            note=note.strip(), due_at=found["due_at"], late=at >= found["due_at"], at=at,
            actor=by, cause=cause)
        return found

    @event("ChecklistItemChecked")
    def _checklist_item_checked(self, ref: str, item: str, title: dict[str, str], by: str,
                                note: str, due_at: datetime, late: bool, at: datetime,
                                actor: str, cause: dict[str, Any]) -> None:
        self.checked = {**(self.checked or {}),
                        item: {"by": by, "at": at, "note": note, "late": late}}

    # -- reads --------------------------------------------------------------------------
    def checklist_item(self, item: str) -> dict[str, Any]:
        if self.checklist is None:
            raise NoChecklist(f"incident {self._ref} has no checklist: no template applies "
                              f"to {self.severity}")  # type: ignore[attr-defined]
        for found in self.checklist["items"]:
            if found["id"] == item:
                return found
        known = ", ".join(i["id"] for i in self.checklist["items"])
        raise ChecklistItemNotFound(f"incident {self._ref}: {item!r} is not an item of its "
                                    f"checklist {self.checklist['name']!r} (items: {known})",
                                    field="item")

    def checklist_state(self, now: datetime) -> dict[str, Any] | None:
        """Each item done, overdue (not checked by its deadline) or open, with who checked
        it, when, and their note."""
        if self.checklist is None:
            return None
        items = []
        for i in self.checklist["items"]:
            done = (self.checked or {}).get(i["id"])
            # Overdue from its due time on, when the notifier tells the Accountable.
            state = "done" if done else ("overdue" if now >= i["due_at"] else "open")
            items.append({**i, "state": state, "checked_by": done and done["by"],
                          "checked_at": done and done["at"], "note": done and done["note"],
                          "late": done["late"] if done else None})
        return {**{k: v for k, v in self.checklist.items() if k != "items"}, "items": items}

    @property
    def _ref(self) -> str:
        return self.ref  # type: ignore[attr-defined]

    # -- guards ---------------------------------------------------------------------------
    def check_not_checked(self, item: dict[str, Any]) -> None:
        done = (self.checked or {}).get(item["id"])
        if done:
            raise ItemAlreadyChecked(
                f"incident {self._ref}: checklist item {item['id']!r} ({item['title']['en']}) "
                f"was checked by {done['by']} at {done['at'].isoformat()}; an item is "
                "checked once")


def due_items(template: dict[str, Any], items: list[dict[str, Any]],
              opened_at: datetime) -> list[dict[str, Any]]:
    """The items with their deadlines. Stored without them (a step's time box says it): a
    P0's sixteen datetimes would be transcoded on every read of the incident."""
    return [{**i, "due_at": opened_at + timedelta(
        seconds=template["steps"][i["step"]]["within_seconds"])} for i in items]


class NoChecklist(NotFound):
    """The incident carries no checklist (no template for its severity and type)."""


class ChecklistItemNotFound(NotFound):
    """The item is not on the incident's checklist."""


class ItemAlreadyChecked(DomainError):
    """Each checklist item is checked once."""


class ItemNeedsManager(DomainError):
    """A sign-off item (a review held, the case closed) takes the manager role (HTTP 403)."""
