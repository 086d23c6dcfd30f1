"""SOP checklists, mixed into IncidentsApplication: every incident saved carries the checklist
its severity and type call for (attached as it opens, replaced when a severity or type change
calls for another template), people check its items, and its communication templates are
rendered with the incident's data. See docs/adr/checklists.md for why the checklist is
attached where incidents are saved rather than at each place one opens."""
from __future__ import annotations

from typing import Any

from services.incidents.checklist_messages import message_context, render_parts
from services.incidents.checklist_templates import LANGUAGES, ChecklistTemplates, Template
from services.incidents.domain import Incident
from services.incidents.domain.checklist import NoChecklist
from services.incidents.domain.core import FINISHED
from services.incidents.queries import state_of
from shared.errors import Invalid, NotFound

CHECKLIST_ACTOR = "checklists"


class MessageNotFound(NotFound):
    """No communication template of that name on the incident's checklist."""


class ChecklistCommands:
    """Listed before ServiceApplication among IncidentsApplication's bases: its save and
    save_tracked see each incident on its way to the store. Needs clock, retry_on_conflict,
    _incident and checklist_templates."""

    checklist_templates = ChecklistTemplates()  # none configured: nothing is attached

    # -- attaching, wherever an incident is saved -------------------------------------------
    def save(self, *objs: Any, **kwargs: Any) -> Any:
        self._attach_checklists(objs)
        return super().save(*objs, **kwargs)  # type: ignore[misc]

    def save_tracked(self, *objs: Any, tracking: Any, numbers: tuple = ()) -> None:
        self._attach_checklists(objs)
        super().save_tracked(*objs, tracking=tracking, numbers=numbers)  # type: ignore[misc]

    def _attach_checklists(self, objs: tuple[Any, ...]) -> None:
        """An incident changed in this save whose checklist is not the one its severity and
        type call for gets that one; without a checklist file nothing is touched."""
        templates = self.checklist_templates
        if templates.source is None:
            return
        for incident in objs:
            if not isinstance(incident, Incident) or not incident.pending_events \
                    or incident.status in FINISHED:
                continue
            template = templates.template_for(incident.severity, incident.sla_type)
            attached = (incident.checklist or {}).get("name")
            if attached == (template.name if template else None):
                continue
            last = incident.pending_events[-1]  # what changed it: the attachment's time, cause
            at = getattr(last, "at", None) or self.clock.now()  # type: ignore[attr-defined]
            incident.attach_checklist(*_attachment(template), at=at,
                                      actor=CHECKLIST_ACTOR,
                                      cause=dict(getattr(last, "cause", None) or {}))

    # -- commands (API) ------------------------------------------------------------------
    def check_checklist_item(self, id_or_ref: str, item: str, by: str, note: str,
                             manager: bool, cause: dict[str, Any]) -> dict[str, Any]:
        """`manager`: whether the caller holds the manager role (sign-off items need it)."""
        def attempt() -> dict[str, Any]:
            incident: Incident = self._incident(id_or_ref)  # type: ignore[attr-defined]
            at = self.clock.now()  # type: ignore[attr-defined]
            incident.check_item(item, by, note, manager, at, cause)
            self.save(incident)
            return _item_of(incident.checklist_state(at), item)

        return self.retry_on_conflict(attempt)  # type: ignore[attr-defined]

    # -- queries ---------------------------------------------------------------------------
    def checklist(self, id_or_ref: str) -> dict[str, Any]:
        incident: Incident = self._incident(id_or_ref)  # type: ignore[attr-defined]
        return self._checklist_of(incident)

    def checklist_message(self, id_or_ref: str, name: str, language: str,
                          sender: str | None) -> dict[str, Any]:
        """A communication template of the incident's checklist, rendered with its data
        now, in SCQA parts and as one text to copy."""
        if language not in LANGUAGES:
            raise Invalid("language", f"{language!r} is not offered: use zh or en")
        incident: Incident = self._incident(id_or_ref)  # type: ignore[attr-defined]
        checklist = self._checklist_of(incident)
        offered = [m for step in checklist["steps"] for m in step["messages"]]
        message = self.checklist_templates.messages.get(name)
        if name not in offered or message is None:
            raise MessageNotFound(f"incident {incident.ref}: {name!r} is not a communication "
                                  f"template of its checklist {checklist['name']!r} "
                                  f"(templates: {', '.join(dict.fromkeys(offered)) or 'none'})",
                                  field="name")
        state = {**state_of(incident),
                 "summary": (incident.intake or {}).get("description") or incident.title}
        now = self.clock.now()  # type: ignore[attr-defined]
        context = message_context(state, checklist, language,
                                  self.checklist_templates.time_zone, now, sender)
        parts = render_parts(message.parts[language], context)
        return {"incident": incident.ref, "name": name, "language": language,
                "audience": message.audience[language], "parts": parts,
                "text": "\n".join(parts[p] for p in parts)}

    def _checklist_of(self, incident: Incident) -> dict[str, Any]:
        state = incident.checklist_state(self.clock.now())  # type: ignore[attr-defined]
        if state is None:
            raise NoChecklist(f"incident {incident.ref} has no checklist: no template of "
                              f"CLOSEDLOOP_CHECKLISTS_FILE applies to {incident.severity}"
                              + (f" ({incident.sla_type})" if incident.sla_type else ""))
        counts = {s: sum(1 for i in state["items"] if i["state"] == s)
                  for s in ("done", "open", "overdue")}
        return {"incident": incident.ref, "incident_id": str(incident.id),
                "opened_at": incident.opened_at, **state, "counts": counts}


def _attachment(template: Template | None) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    if template is None:
        return None, []
    items = [{"id": i.id, "step": i.step, "title": dict(i.title), "role": i.role}
             for i in template.items]
    return ({"name": template.name, "severity": str(template.severity), "type": template.type,
             "steps": [dict(s) for s in template.steps]}, items)


def _item_of(state: dict[str, Any] | None, item: str) -> dict[str, Any]:
    return next(i for i in (state or {}).get("items", []) if i["id"] == item)
