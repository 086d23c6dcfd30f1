"""Read models of the notifier: channels, policies, deliveries and escalations. The workers
find due work in `deliveries` and `escalations`; every write sets absolute values, so a
replay of the log rebuilds the same rows."""
from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.notifier.domain import Channel, Delivery, Escalation, EscalationPolicy
from services.notifier.domain.channel import url_hint
from services.notifier.domain.routing import ladder_of, shorthand_of
from services.notifier.quiet.silences import Silence
from services.notifier.quiet.windows import MaintenanceWindow
from shared.readmodels import Apply, Projection


class NotifierProjection(Projection):
    name = "notifier"
    tables = {
        "channels": """
            CREATE TABLE IF NOT EXISTS channels (
                id uuid PRIMARY KEY,
                name text NOT NULL,
                kind text NOT NULL,
                url text NOT NULL,
                has_secret boolean NOT NULL,
                header_names text[] NOT NULL,
                enabled boolean NOT NULL DEFAULT true,
                disabled_why text,
                created_at timestamptz NOT NULL,
                created_by text NOT NULL,
                updated_at timestamptz NOT NULL,
                updated_by text NOT NULL
            )""",
        "policies": """
            CREATE TABLE IF NOT EXISTS policies (
                id uuid PRIMARY KEY,
                name text NOT NULL,
                severities text[] NOT NULL,
                steps jsonb NOT NULL,
                repeat integer NOT NULL,
                notify text[] NOT NULL,
                escalate_after_seconds double precision NOT NULL,
                escalate_to text[] NOT NULL,
                retrigger_after_seconds double precision,
                digest jsonb,
                enabled boolean NOT NULL DEFAULT true,
                disabled_why text,
                created_at timestamptz NOT NULL,
                created_by text NOT NULL,
                updated_at timestamptz NOT NULL,
                updated_by text NOT NULL
            )""",
        "deliveries": """
            CREATE TABLE IF NOT EXISTS deliveries (
                id uuid PRIMARY KEY,
                incident_id text NOT NULL,
                ref text NOT NULL,
                channel_id text NOT NULL,
                channel_name text NOT NULL,
                reason text NOT NULL,
                person text,
                target text,
                status text NOT NULL,
                attempts integer NOT NULL,
                last_status_code integer,
                last_error text,
                last_error_class text,
                next_attempt_at timestamptz,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL
            );
            CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at)
                WHERE status IN ('pending', 'retrying', 'sending');
            CREATE INDEX IF NOT EXISTS deliveries_incident ON deliveries (incident_id)""",
        "escalations": """
            CREATE TABLE IF NOT EXISTS escalations (
                id uuid PRIMARY KEY,
                incident_id text NOT NULL UNIQUE,
                ref text NOT NULL,
                severity text NOT NULL,
                status text NOT NULL,
                opened_at timestamptz NOT NULL,
                due_at timestamptz NOT NULL,
                escalate_to text[] NOT NULL,
                policy_ids text[] NOT NULL,
                step integer NOT NULL DEFAULT 0,
                round integer NOT NULL DEFAULT 0,
                escalated_at timestamptz,
                waited_seconds double precision,
                stopped_why text,
                stopped_at timestamptz,
                held_kind text,
                held_id text,
                held_until timestamptz,
                updated_at timestamptz NOT NULL
            );
            CREATE INDEX IF NOT EXISTS escalations_due ON escalations (due_at)
                WHERE status IN ('waiting', 'acknowledged');
            CREATE INDEX IF NOT EXISTS escalations_held ON escalations (held_id)
                WHERE held_id IS NOT NULL""",
    }

    def handlers(self) -> dict[type, Apply]:
        return {
            Channel.Registered: channel_registered,
            Channel.Updated: channel_updated,
            Channel.Disabled: switched("channels", enabled=False),
            Channel.Enabled: switched("channels", enabled=True),
            Channel.SecretRotated: touched("channels"),
            EscalationPolicy.Defined: policy_defined,
            EscalationPolicy.Revised: policy_revised,
            EscalationPolicy.Disabled: switched("policies", enabled=False),
            EscalationPolicy.Enabled: switched("policies", enabled=True),
            Delivery.Scheduled: delivery_scheduled,
            Delivery.AttemptStarted: attempt_started,
            Delivery.AttemptFailed: attempt_failed,
            Delivery.Delivered: delivered,
            Delivery.Failed: delivery_failed,
            Delivery.Skipped: delivery_skipped,
            Delivery.Throttled: delivery_throttled,
            Delivery.Folded: delivery_folded,
            Escalation.Started: escalation_started,
            Escalation.Escalated: escalated,
            Escalation.Stopped: escalation_stopped,
            Escalation.Acknowledged: escalation_acknowledged,
            Escalation.Retriggered: escalated,
            Escalation.Held: escalation_held,
            Silence.Expired: hold_changed,
            MaintenanceWindow.Revised: hold_changed,
            MaintenanceWindow.Deleted: hold_changed,
            Escalation.Rearmed: escalation_rearmed,
        }


def shown(e: Any) -> str:
    """The URL as people see it: the masked form kept with the event (sealed URLs), else
    the hint of a webhook's URL."""
    return getattr(e, "hint", None) or url_hint(e.url)


async def channel_registered(conn: asyncpg.Connection, e: Any) -> None:
    # Only whether a secret exists and the header names reach the read model: never the
    # secret or a header value (sealed or not), and only a hint of the URL.
    await conn.execute(
        """INSERT INTO channels (id, name, kind, url, has_secret, header_names, enabled,
                                 created_at, created_by, updated_at, updated_by)
           VALUES ($1, $2, $3, $4, $5, $6, true, $7, $8, $7, $8)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
               url = EXCLUDED.url, has_secret = EXCLUDED.has_secret,
               header_names = EXCLUDED.header_names, enabled = true, disabled_why = NULL,
               updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by""",
        e.originator_id, e.name, e.kind, shown(e), bool(e.secret), sorted(e.headers),
        e.at, e.actor)


async def channel_updated(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE channels SET name = coalesce($2, name), url = coalesce($3, url), "
        "header_names = coalesce($4, header_names), updated_at = $5, updated_by = $6 "
        "WHERE id = $1",
        e.originator_id, e.name, shown(e) if e.url else None,
        sorted(e.headers) if e.headers is not None else None, e.at, e.actor)


def switched(table: str, *, enabled: bool) -> Apply:
    async def apply(conn: asyncpg.Connection, e: Any) -> None:
        await conn.execute(
            f"UPDATE {table} SET enabled = $2, disabled_why = $3, updated_at = $4, "
            "updated_by = $5 WHERE id = $1",
            e.originator_id, enabled, None if enabled else e.why, e.at, e.actor)
    return apply


def touched(table: str) -> Apply:
    async def apply(conn: asyncpg.Connection, e: Any) -> None:
        await conn.execute(f"UPDATE {table} SET updated_at = $2, updated_by = $3 WHERE id = $1",
                           e.originator_id, e.at, e.actor)
    return apply


def _policy_columns(e: Any) -> tuple:
    ladder = ladder_of(getattr(e, "steps", None), getattr(e, "repeat", 0),
                       getattr(e, "notify", ()), getattr(e, "escalate_after_seconds", 0.0),
                       getattr(e, "escalate_to", ()), getattr(e, "retrigger_after_seconds", None))
    short = shorthand_of(ladder)
    return (e.originator_id, e.name, list(e.severities), json.dumps(ladder.as_list()),
            ladder.repeat, short["notify"], short["escalate_after_seconds"],
            short["escalate_to"], e.at, e.actor, ladder.retrigger_seconds, _digest_column(e))


def _digest_column(e: Any) -> str | None:
    """A digest policy's cadence (null for a paging policy, and for events from before)."""
    if getattr(e, "digest", None) is None:
        return None
    return json.dumps({"digest": e.digest, "digest_at": e.digest_at,
                       "digest_weekday": e.digest_weekday,
                       "digest_time_zone": e.digest_time_zone})


async def policy_defined(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        """INSERT INTO policies (id, name, severities, steps, repeat, notify,
                                 escalate_after_seconds, escalate_to, enabled, created_at,
                                 created_by, updated_at, updated_by, retrigger_after_seconds,
                                 digest)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true, $9, $10, $9, $10, $11, $12)
           ON CONFLICT (id) DO UPDATE SET severities = EXCLUDED.severities,
               retrigger_after_seconds = EXCLUDED.retrigger_after_seconds,
               digest = EXCLUDED.digest,
               steps = EXCLUDED.steps, repeat = EXCLUDED.repeat,
               notify = EXCLUDED.notify, escalate_to = EXCLUDED.escalate_to,
               escalate_after_seconds = EXCLUDED.escalate_after_seconds, enabled = true,
               disabled_why = NULL, updated_at = EXCLUDED.updated_at,
               updated_by = EXCLUDED.updated_by""",
        *_policy_columns(e))


async def policy_revised(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE policies SET name = $2, severities = $3, steps = $4, repeat = $5, notify = $6, "
        "escalate_after_seconds = $7, escalate_to = $8, updated_at = $9, updated_by = $10, "
        "retrigger_after_seconds = $11, digest = $12 WHERE id = $1",
        *_policy_columns(e))


async def delivery_scheduled(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        """INSERT INTO deliveries (id, incident_id, ref, channel_id, channel_name, reason,
                                   person, target, status, attempts, next_attempt_at,
                                   created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $8, $9, 'pending', 0, $7, $7, $7)
           ON CONFLICT (id) DO UPDATE SET status = 'pending', attempts = 0,
               last_status_code = NULL, last_error = NULL, last_error_class = NULL,
               next_attempt_at = EXCLUDED.next_attempt_at, updated_at = EXCLUDED.updated_at""",
        e.originator_id, e.incident_id, e.ref, e.channel_id, e.channel_name, e.reason, e.at,
        (getattr(e, "recipient", None) or {}).get("handle"), getattr(e, "target", None))


async def attempt_started(conn: asyncpg.Connection, e: Any) -> None:
    # While an attempt is in flight, next_attempt_at is the end of its lease: past it, a
    # worker records the attempt as interrupted.
    await conn.execute(
        "UPDATE deliveries SET status = 'sending', attempts = $2, next_attempt_at = $3, "
        "updated_at = $4 WHERE id = $1",
        e.originator_id, e.attempt, e.lease_until, e.at)


async def attempt_failed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = $2, last_status_code = $3, last_error = $4, "
        "last_error_class = $5, next_attempt_at = $6, updated_at = $7 WHERE id = $1",
        e.originator_id, "retrying" if e.next_attempt_at else "failed", e.status_code,
        e.error, getattr(e, "error_class", "unknown"), e.next_attempt_at, e.at)


async def delivery_throttled(conn: asyncpg.Connection, e: Any) -> None:
    # 'retrying' in the read model: due again at `until`, the row the worker looks for.
    await conn.execute(
        "UPDATE deliveries SET status = 'retrying', last_error = $2, last_error_class = "
        "'throttled', next_attempt_at = $3, updated_at = $4 WHERE id = $1",
        e.originator_id, e.why, e.until, e.at)


async def delivery_folded(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'folded', last_error = $2, last_error_class = "
        "'throttled', next_attempt_at = NULL, updated_at = $3 WHERE id = $1",
        e.originator_id, e.why, e.at)


async def delivery_skipped(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'skipped', last_error = $2, last_error_class = $3, "
        "next_attempt_at = NULL, updated_at = $4 WHERE id = $1",
        e.originator_id, e.why, e.error_class, e.at)


async def delivered(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'delivered', attempts = $2, last_status_code = $3, "
        "last_error = NULL, last_error_class = NULL, next_attempt_at = NULL, updated_at = $4 WHERE id = $1",
        e.originator_id, e.attempt, e.status_code, e.at)


async def delivery_failed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'failed', attempts = $2, next_attempt_at = NULL, "
        "updated_at = $3 WHERE id = $1",
        e.originator_id, e.attempts, e.at)


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
