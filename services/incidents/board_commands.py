"""The board's one command, mixed into IncidentsApplication: a responder sets the incident's
planned closure (预计闭环时间); and how that reads on the incident's timeline."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from services.incidents.domain import Incident


class BoardCommands:
    """Needs the application's _change."""

    def plan_closure(self, id_or_ref: str, close_at: datetime, note: str, by: str,
                     cause: dict[str, Any]) -> dict:
        return self._change(id_or_ref,  # type: ignore[attr-defined]
                            lambda i, at: i.plan_closure(close_at, note, by, at, cause))


def _told_planned(e: Any, _: dict[str, Any]) -> str:
    when = e.planned_close_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    moved = (f" (was {e.previous.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')})"
             if e.previous else "")
    return f"{e.by} plans to close it by {when}{moved}" + (f": {e.note}" if e.note else "")


BOARD_STORY = {Incident.ClosurePlanned: ("closure planned", _told_planned)}
