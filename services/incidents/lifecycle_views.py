"""How the lifecycle events (severity changed, reopened, progress, followers) are told: as
public contracts on the bus, as lines of the incident's timeline, as changes to the
`incidents` read model."""
from __future__ import annotations

from typing import Any

import asyncpg

from shared.contracts import (
    IncidentFollowed, IncidentProgressPosted, IncidentReopened, IncidentSeverityChanged,
    IncidentUnfollowed,
)

from services.incidents.domain.lifecycle import IncidentLifecycle as L
from services.incidents.domain.vocabulary import Status
from services.incidents.sla_views import regraded_clocks, reopened_clocks
from services.incidents.wording import clock


# -- contracts ------------------------------------------------------------------------------
def _severity_changed(e: Any) -> IncidentSeverityChanged:
    return IncidentSeverityChanged(
        incident_id=str(e.originator_id), ref=e.ref, severity=e.severity, previous=e.previous,
        reason=e.reason, by=e.by, respond_by=e.respond_by, resolve_by=e.resolve_by,
        acknowledged=e.acknowledged, status=e.status, at=e.at)


def _reopened(e: Any) -> IncidentReopened:
    return IncidentReopened(
        incident_id=str(e.originator_id), ref=e.ref, severity=e.severity, reason=e.reason,
        by=e.by, was=e.was, status=e.status, resolve_by=e.resolve_by, at=e.at,
        respond_by=getattr(e, "respond_by", None))


def _progress(e: Any) -> IncidentProgressPosted:
    return IncidentProgressPosted(incident_id=str(e.originator_id), ref=e.ref,
                                  number=e.number, text=e.text, author=e.author, at=e.at,
                                  next_update_by=getattr(e, "next_update_by", None))


def _followed(e: Any) -> IncidentFollowed:
    return IncidentFollowed(incident_id=str(e.originator_id), ref=e.ref, person=e.person,
                            by=e.by, via=e.via, at=e.at)


def _unfollowed(e: Any) -> IncidentUnfollowed:
    return IncidentUnfollowed(incident_id=str(e.originator_id), ref=e.ref, person=e.person,
                              by=e.by, at=e.at)


LIFECYCLE_CONTRACTS = {
    L.SeverityChanged: _severity_changed, L.Reopened: _reopened, L.ProgressPosted: _progress,
    L.Followed: _followed, L.Unfollowed: _unfollowed,
}


# -- timeline -------------------------------------------------------------------------------
def _told_severity(e: Any, seen: dict[str, Any]) -> str:
    seen.update(severity=e.severity, respond_by=e.respond_by, resolve_by=e.resolve_by)
    return (f"{e.by} changed the severity from {e.previous} to {e.severity}: {e.reason}; "
            f"respond by {clock(e.respond_by)}, resolve by {clock(e.resolve_by)}")


def _told_reopened(e: Any, seen: dict[str, Any]) -> str:
    seen.update(resolve_by=e.resolve_by)
    was = Status(e.was)
    return (f"{e.by} reopened {e.ref} ({was.label} → {Status(e.status).label}): {e.reason}; "
            f"to be acknowledged again, resolve by {clock(e.resolve_by)}")


def _told_progress(e: Any, _: dict[str, Any]) -> str:
    due = getattr(e, "next_update_by", None)  # the progress cadence (cadence_views.py)
    return f"update {e.number} from {e.author}: {e.text}" + (
        f"; next update by {clock(due)}" if due is not None else "")


def _told_followed(e: Any, _: dict[str, Any]) -> str:
    if e.via == "reporter":
        return f"{e.person} reported it and follows it"
    how = "" if e.by == e.person else f" (added by {e.by})"
    return f"{e.person} follows it{how}"


def _told_unfollowed(e: Any, _: dict[str, Any]) -> str:
    how = "" if e.by == e.person else f" (removed by {e.by})"
    return f"{e.person} no longer follows it{how}"


LIFECYCLE_STORY = {
    L.SeverityChanged: ("severity changed", _told_severity),
    L.Reopened: ("reopened", _told_reopened),
    L.ProgressPosted: ("progress", _told_progress),
    L.Followed: ("followed", _told_followed),
    L.Unfollowed: ("unfollowed", _told_unfollowed),
}



# -- read model -----------------------------------------------------------------------------
async def severity_changed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE incidents SET severity = $2, respond_by = $3, resolve_by = $4 WHERE id = $1",
        e.originator_id, e.severity, e.respond_by, e.resolve_by)
    await regraded_clocks(conn, e)


async def reopened(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE incidents SET status = $2, resolved_at = NULL, closed_at = NULL, "
        "resolve_by = $3 WHERE id = $1", e.originator_id, e.status, e.resolve_by)
    await reopened_clocks(conn, e)


LIFECYCLE_ROWS = {L.SeverityChanged: severity_changed, L.Reopened: reopened}
