"""How the SLA clock events (at risk, closure clock, awaiting the requester) are told: as
public contracts on the bus, as lines of the incident's timeline, as changes to the
`incidents` read model."""
from __future__ import annotations

from typing import Any

import asyncpg

from shared.contracts import IncidentSlaAtRisk, IncidentSlaPaused, IncidentSlaResumed

from services.incidents.domain.sla import IncidentSla as S
from services.incidents.wording import clock

_DEADLINE = {"respond": "acknowledge", "resolve": "restore service", "close": "close the case"}


# -- contracts ------------------------------------------------------------------------------
def _at_risk(e: Any) -> IncidentSlaAtRisk:
    return IncidentSlaAtRisk(incident_id=str(e.originator_id), ref=e.ref, severity=e.severity,
                             kind=e.kind, deadline=e.deadline, responsible=e.responsible,
                             at=e.at)


def _paused(e: Any) -> IncidentSlaPaused:
    return IncidentSlaPaused(incident_id=str(e.originator_id), ref=e.ref, reason=e.reason,
                             by=e.by, at=e.at)


def _resumed(e: Any) -> IncidentSlaResumed:
    return IncidentSlaResumed(incident_id=str(e.originator_id), ref=e.ref, by=e.by,
                              paused_since=e.paused_since, paused_seconds=e.paused_seconds,
                              deadlines=e.deadlines, at=e.at)


SLA_CONTRACTS = {S.SlaAtRisk: _at_risk, S.SlaPaused: _paused, S.SlaResumed: _resumed}


# -- timeline -------------------------------------------------------------------------------
def _told_at_risk(e: Any, _: dict[str, Any]) -> str:
    left = int((e.deadline - e.at).total_seconds() // 60)
    return (f"{e.severity} {e.kind} SLA at risk: {left} min left to {_DEADLINE[e.kind]} "
            f"(by {clock(e.deadline)})")


def _told_close_clock(e: Any, _: dict[str, Any]) -> str:
    return f"to be closed (CAPA done) by {clock(e.close_by)}"


def _told_paused(e: Any, _: dict[str, Any]) -> str:
    why = f": {e.reason}" if e.reason else ""
    return f"{e.by} set it to await the requester (待用户确认); SLA clocks paused{why}"


def _told_resumed(e: Any, _: dict[str, Any]) -> str:
    moved = ", ".join(f"{kind} by {clock(due)}" for kind, due in e.deadlines.items())
    return (f"{e.by} resumed it after the requester answered; SLA clocks run again, "
            f"{int(e.paused_seconds // 60)} working min paused"
            + (f"; now {moved}" if moved else ""))


SLA_STORY = {
    S.SlaAtRisk: ("SLA at risk", _told_at_risk),
    S.CloseClockStarted: ("closure clock started", _told_close_clock),
    S.SlaPaused: ("awaiting requester", _told_paused),
    S.SlaResumed: ("requester answered", _told_resumed),
}



# -- read model -----------------------------------------------------------------------------
SLA_COLUMNS = """
    close_by timestamptz,
    close_breached boolean NOT NULL DEFAULT false,
    respond_risk_at timestamptz,
    resolve_risk_at timestamptz,
    close_risk_at timestamptz,
    respond_warned boolean NOT NULL DEFAULT false,
    resolve_warned boolean NOT NULL DEFAULT false,
    close_warned boolean NOT NULL DEFAULT false,
    paused_since timestamptz,"""

# A deadline warned at risk that is neither met nor missed yet.
AT_RISK = """(
       (respond_warned AND acknowledged_at IS NULL AND resolved_at IS NULL
        AND NOT respond_breached)
    OR (resolve_warned AND resolved_at IS NULL AND NOT resolve_breached)
    OR (close_warned AND resolved_at IS NOT NULL AND closed_at IS NULL AND NOT close_breached))"""


async def opened_clocks(conn: asyncpg.Connection, e: Any) -> None:
    risk = getattr(e, "at_risk", None) or {}
    await conn.execute(
        "UPDATE incidents SET respond_risk_at = $2, resolve_risk_at = $3, close_by = NULL, "
        "close_risk_at = NULL, respond_warned = false, resolve_warned = false, "
        "close_warned = false, close_breached = false, paused_since = NULL WHERE id = $1",
        e.originator_id, risk.get("respond"), risk.get("resolve"))


async def regraded_clocks(conn: asyncpg.Connection, e: Any) -> None:
    risk = getattr(e, "at_risk", None)
    if risk:
        await conn.execute("UPDATE incidents SET respond_risk_at = $2, resolve_risk_at = $3 "
                           "WHERE id = $1", e.originator_id, risk.get("respond"),
                           risk.get("resolve"))


async def reopened_clocks(conn: asyncpg.Connection, e: Any) -> None:
    risk = getattr(e, "at_risk", None)
    if risk:
        await conn.execute("UPDATE incidents SET resolve_risk_at = $2, resolve_warned = false "
                           "WHERE id = $1", e.originator_id, risk.get("resolve"))


async def at_risk(conn: asyncpg.Connection, e: Any) -> None:
    column = {"respond": "respond_warned", "resolve": "resolve_warned",
              "close": "close_warned"}[e.kind]
    await conn.execute(f"UPDATE incidents SET {column} = true WHERE id = $1", e.originator_id)


async def close_clock(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE incidents SET close_by = $2, close_risk_at = $3, "
                       "close_warned = false WHERE id = $1", e.originator_id, e.close_by,
                       e.at_risk)


async def paused(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE incidents SET paused_since = $2 WHERE id = $1",
                       e.originator_id, e.at)


async def resumed(conn: asyncpg.Connection, e: Any) -> None:
    due, risk = e.deadlines, e.at_risk
    await conn.execute(
        "UPDATE incidents SET paused_since = NULL, "
        "respond_by = coalesce($2, respond_by), resolve_by = coalesce($3, resolve_by), "
        "close_by = coalesce($4, close_by), respond_risk_at = coalesce($5, respond_risk_at), "
        "resolve_risk_at = coalesce($6, resolve_risk_at), "
        "close_risk_at = coalesce($7, close_risk_at) WHERE id = $1",
        e.originator_id, due.get("respond"), due.get("resolve"), due.get("close"),
        risk.get("respond"), risk.get("resolve"), risk.get("close"))


SLA_ROWS = {S.SlaAtRisk: at_risk, S.CloseClockStarted: close_clock, S.SlaPaused: paused,
            S.SlaResumed: resumed}
