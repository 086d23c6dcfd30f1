"""The closing paths and drills as others see them (domain/closing.py): the contracts they
publish, the lines they add to the timeline and the `incidents` rows they change."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from shared.contracts import IncidentCapaRequested, IncidentDrillFlagged
from shared.durations import span, window_name

from services.incidents.domain import Incident

C = Incident  # the closing events are Incident.<Name> (domain/core.py share_events)


# -- contracts -----------------------------------------------------------------------------
def _capa_requested(e: Any) -> IncidentCapaRequested:
    return IncidentCapaRequested(
        incident_id=str(e.originator_id), ref=e.ref, severity=e.severity, title=e.title,
        entity=e.entity, by=e.by, reason=e.reason, resolution=e.resolution, at=e.at,
        fingerprint=e.fingerprint, interval_seconds=e.interval_seconds, drill=e.drill)


def _drill_flagged(e: Any) -> IncidentDrillFlagged:
    return IncidentDrillFlagged(incident_id=str(e.originator_id), ref=e.ref, reason=e.reason,
                                by=e.by, at=e.at, fingerprint=getattr(e, "fingerprint", None))


CLOSING_CONTRACTS = {C.CapaRequested: _capa_requested, C.DrillFlagged: _drill_flagged}


# -- timeline ------------------------------------------------------------------------------
_CLOSED_WITHOUT_CAPA = {
    "false_positive": lambda e: (f"{e.by} found the alert a false positive; {e.ref} is closed "
                                 f"(已闭环) without a CAPA case: {e.note}"),
    "optional": lambda e: (f"{e.by} closed {e.ref} (已闭环) without a CAPA case, which its "
                           f"severity makes optional: {e.note}"),
    "observe": lambda e: f"{e.note}; {e.ref} is closed (已闭环) without a CAPA case",
}


def closed_without_capa(e: Any) -> str | None:
    """The closure's sentence when no CAPA case closed it (None: the case closed it)."""
    told = _CLOSED_WITHOUT_CAPA.get(getattr(e, "path", "capa"))
    return told(e) if told else None


def closing_of_resolution(e: Any) -> str:
    """What the resolution means for the closure, appended to its timeline line."""
    closing = getattr(e, "closing", "required")
    if closing == "observe":
        window = window_name(_seconds(e.observe_seconds))
        return (f"; self-fixed: observed for {window} (观察中), it closes by itself if the "
                "alert stays clear")
    if closing == "optional":
        return "; a CAPA is optional: close it with a note, or ask for a CAPA case"
    return ""


def _observation_started(e: Any, _: dict[str, Any]) -> str:
    return (f"observation window of {span(_seconds(e.window_seconds))} started: {e.ref} "
            f"closes by itself at {e.ends_at:%Y-%m-%d %H:%M} UTC if the alert stays clear")


def _observation_failed(e: Any, _: dict[str, Any]) -> str:
    return (f"{e.reason} (day {e.day}); the self-fix did not hold: investigated again, and "
            "the next resolution needs a CAPA case")


def _capa_requested_line(e: Any, _: dict[str, Any]) -> str:
    return f"{e.by} asked for a CAPA case although it is optional: {e.reason}"


def _drill_line(e: Any, _: dict[str, Any]) -> str:
    return f"{e.by} flagged {e.ref} as a drill (演练), kept out of every KPI: {e.reason}"


CLOSING_STORY = {
    C.ObservationStarted: ("observation started", _observation_started),
    C.ObservationFailed: ("observation failed", _observation_failed),
    C.CapaRequested: ("CAPA requested", _capa_requested_line),
    C.DrillFlagged: ("flagged as drill", _drill_line),
}


# -- the incidents read model --------------------------------------------------------------
async def observation_started(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE incidents SET observe_ends_at = $2 WHERE id = $1",
                       e.originator_id, e.ends_at)


async def observation_failed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE incidents SET observe_ends_at = NULL WHERE id = $1",
                       e.originator_id)


async def drill_flagged(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE incidents SET drill = true WHERE id = $1", e.originator_id)


CLOSING_ROWS = {C.ObservationStarted: observation_started,
                C.ObservationFailed: observation_failed, C.DrillFlagged: drill_flagged}


def _seconds(value: float | None) -> timedelta:
    return timedelta(seconds=value or 0)
