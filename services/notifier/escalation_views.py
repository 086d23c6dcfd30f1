"""The `escalations` read model: one row per incident's ladder, where the escalation worker
finds the steps that are due (every write sets absolute values)."""
from __future__ import annotations

from typing import Any

import asyncpg


async def escalation_started(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        """INSERT INTO escalations (id, incident_id, ref, severity, status, opened_at, due_at,
                                    escalate_to, policy_ids, updated_at)
           VALUES ($1, $2, $3, $4, 'waiting', $5, $6, $7, $8, $9)
           ON CONFLICT (id) DO UPDATE SET status = 'waiting', due_at = EXCLUDED.due_at,
               escalated_at = NULL, waited_seconds = NULL, stopped_why = NULL,
               stopped_at = NULL, updated_at = EXCLUDED.updated_at""",
        e.originator_id, e.incident_id, e.ref, e.severity, e.opened_at, e.due_at,
        [c["id"] for c in e.escalate_to], list(e.policy_ids), e.at)


async def escalation_rearmed(conn: asyncpg.Connection, e: Any) -> None:
    # The ladder starts over: waiting for its step 1 again (or done, with no later step).
    await conn.execute(
        "UPDATE escalations SET status = $2, severity = $3, opened_at = $4, due_at = $5, "
        "escalate_to = $6, policy_ids = $7, step = 0, round = 0, escalated_at = NULL, "
        "waited_seconds = NULL, stopped_why = NULL, stopped_at = NULL, held_kind = NULL, "
        "held_id = NULL, held_until = NULL, updated_at = $8 WHERE id = $1",
        e.originator_id, "waiting" if e.waiting else "escalated", e.severity, e.opened_at,
        e.due_at, [c["id"] for c in e.escalate_to], list(e.policy_ids), e.at)


async def escalated(conn: asyncpg.Connection, e: Any) -> None:
    # A step with more to come leaves the escalation waiting for the next one.
    next_due = getattr(e, "next_due_at", None)
    await conn.execute(
        "UPDATE escalations SET status = $4, step = $5, round = $6, "
        "due_at = coalesce($7, due_at), escalated_at = $2, waited_seconds = $3, "
        "held_kind = NULL, held_id = NULL, held_until = NULL, updated_at = $2 WHERE id = $1",
        e.originator_id, e.at, e.waited_seconds, "waiting" if next_due else "escalated",
        e.step, getattr(e, "round", 0), next_due)


async def escalation_acknowledged(conn: asyncpg.Connection, e: Any) -> None:
    # Due again when the re-trigger time passes with the incident still unresolved.
    await conn.execute(
        "UPDATE escalations SET status = 'acknowledged', due_at = $2, held_kind = NULL, "
        "held_id = NULL, held_until = NULL, updated_at = $3 WHERE id = $1",
        e.originator_id, e.retrigger_at, e.at)


async def escalation_held(conn: asyncpg.Connection, e: Any) -> None:
    # Looked at again when the hold ends; the step itself stays due (Escalation.hold).
    await conn.execute(
        "UPDATE escalations SET due_at = $2, held_kind = $3, held_id = $4, held_until = $2, "
        "updated_at = $5 WHERE id = $1",
        e.originator_id, e.until, e.hold["kind"], e.hold.get("id"), e.at)


async def hold_changed(conn: asyncpg.Connection, e: Any) -> None:
    # The silence holding a ladder expired early, or the window was changed or deleted:
    # look again now (the step fires if nothing holds it any more).
    await conn.execute(
        "UPDATE escalations SET due_at = $2 WHERE held_id = $1 "
        "AND status IN ('waiting', 'acknowledged') AND due_at > $2",
        str(e.originator_id), e.at)


async def escalation_stopped(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE escalations SET status = 'stopped', stopped_why = $2, stopped_at = $3, "
        "updated_at = $3 WHERE id = $1",
        e.originator_id, e.why, e.at)
