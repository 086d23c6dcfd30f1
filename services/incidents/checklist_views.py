"""How checklist events are told: as public contracts (the notifier chases the items), and
as lines of the incident's timeline."""
from __future__ import annotations

from typing import Any

from shared.contracts import IncidentChecklistAttached, IncidentChecklistItemChecked

from services.incidents.domain.checklist import IncidentChecklist as C, due_items
from services.incidents.wording import clock


# -- contracts ------------------------------------------------------------------------------
def _attached(e: Any) -> IncidentChecklistAttached:
    template = e.template or {}
    items = due_items(template, e.items, e.opened_at) if e.template else []
    return IncidentChecklistAttached(
        incident_id=str(e.originator_id), ref=e.ref, template=template.get("name"),
        severity=template.get("severity", ""), replaced=e.replaced,
        opened_at=e.opened_at,
        items=[{"item": i["id"], "title": i["title"]["zh"], "title_en": i["title"]["en"],
                "step": i["step"], "due_at": i["due_at"]} for i in items], at=e.at)


def _checked(e: Any) -> IncidentChecklistItemChecked:
    return IncidentChecklistItemChecked(
        incident_id=str(e.originator_id), ref=e.ref, item=e.item, by=e.by, note=e.note,
        due_at=e.due_at, late=e.late, at=e.at)


CHECKLIST_CONTRACTS = {C.ChecklistAttached: _attached, C.ChecklistItemChecked: _checked}


# -- timeline -------------------------------------------------------------------------------
def _told_attached(e: Any, _: dict[str, Any]) -> str:
    if e.template is None:
        return (f"checklist {e.replaced!r} withdrawn: no template applies to the "
                "incident any more")
    first = min((i["due_at"] for i in due_items(e.template, e.items, e.opened_at)),
                default=None)
    replaced = f", replacing {e.replaced!r}" if e.replaced else ""
    due = f"; the first items are due by {clock(first)}" if first else ""
    return f"checklist {e.template['name']!r} attached ({len(e.items)} items){replaced}{due}"


def _told_checked(e: Any, _: dict[str, Any]) -> str:
    late = f", late (due {clock(e.due_at)})" if e.late else ""
    note = f": {e.note}" if e.note else ""
    return f"{e.by} checked {e.title['zh']} ({e.title['en']}){late}{note}"


CHECKLIST_STORY = {
    C.ChecklistAttached: ("checklist attached", _told_attached),
    C.ChecklistItemChecked: ("checklist item checked", _told_checked),
}
