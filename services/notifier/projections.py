"""Read models of the notifier: channels, policies, deliveries and escalations. The workers
find due work in `deliveries` and `escalations`; every write sets absolute values, so a
replay of the log rebuilds the same rows."""
from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.notifier.delivery_views import (
    delivery_scheduled, attempt_started, attempt_failed, delivery_throttled, delivery_folded,
    delivery_skipped, delivered, delivery_failed,
)
from services.notifier.escalation_views import (
    escalation_started, escalation_rearmed, escalated, escalation_acknowledged, escalation_held,
    hold_changed, escalation_stopped,
)
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
