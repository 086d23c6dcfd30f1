"""Read model of 举一反三: the alerts and near misses capa heard, and the category of each
case's root cause.
Queried together with capa_cases (entity, ref) and knowledge_incidents (the incident's labels),
which the search path of a read puts beside them."""
from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.capa.domain import CapaCase
from services.capa.peers.near_miss import NearMissSighting
from services.capa.peers.sighting import AlertSighting
from shared.readmodels import Apply, Projection
from shared.row_writes import own_rows

SIGHTINGS = """
CREATE TABLE IF NOT EXISTS capa_alert_sightings (
    alert_id text PRIMARY KEY,
    fingerprint text NOT NULL,
    rule text NOT NULL,
    name text NOT NULL,
    entity text NOT NULL,
    labels jsonb NOT NULL,
    severity text NOT NULL,
    started_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS capa_alert_sightings_rule ON capa_alert_sightings (rule, started_at);
CREATE INDEX IF NOT EXISTS capa_alert_sightings_name ON capa_alert_sightings (name, started_at);
CREATE INDEX IF NOT EXISTS capa_alert_sightings_fingerprint
    ON capa_alert_sightings (fingerprint, started_at)"""

NEAR_MISSES = """
CREATE TABLE IF NOT EXISTS capa_near_misses (
    id uuid PRIMARY KEY,
    fingerprint text NOT NULL,
    rule_id text NOT NULL,
    name text NOT NULL,
    metric text NOT NULL,
    entity text NOT NULL,
    labels jsonb NOT NULL,
    bound text NOT NULL,
    threshold double precision NOT NULL,
    value double precision NOT NULL,
    observed_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS capa_near_misses_rule ON capa_near_misses (rule_id, observed_at);
CREATE INDEX IF NOT EXISTS capa_near_misses_name ON capa_near_misses (name, observed_at)"""

CAUSES = """
CREATE TABLE IF NOT EXISTS capa_case_causes (
    capa_id uuid PRIMARY KEY,
    incident_id text NOT NULL,
    category text,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS capa_case_causes_category ON capa_case_causes (category, recorded_at)"""


@own_rows(key=lambda e: e.alert_id)
async def _heard(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "INSERT INTO capa_alert_sightings (alert_id, fingerprint, rule, name, entity, labels,"
        " severity, started_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)"
        " ON CONFLICT (alert_id) DO NOTHING",
        e.alert_id, e.fingerprint, e.rule, e.name, e.entity, json.dumps(e.labels), e.severity,
        e.started_at)


@own_rows
async def _near_miss(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "INSERT INTO capa_near_misses (id, fingerprint, rule_id, name, metric, entity, labels,"
        " bound, threshold, value, observed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11)"
        " ON CONFLICT (id) DO NOTHING",
        e.originator_id, e.fingerprint, e.rule_id, e.name, e.metric, e.entity,
        json.dumps(e.labels), e.bound, e.threshold, e.value, e.observed_at)


async def _root_cause(conn: asyncpg.Connection, e: Any) -> None:
    # A revision replaces the category: the latest analysis is the one peers are matched on.
    await conn.execute(
        "INSERT INTO capa_case_causes (capa_id, incident_id, category, recorded_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (capa_id)"
        " DO UPDATE SET category = $3, recorded_at = $4",
        e.originator_id, e.incident_id, e.category, e.at)


class PeerSignals(Projection):
    name = "peers"
    tables = {"capa_alert_sightings": SIGHTINGS, "capa_case_causes": CAUSES,
              "capa_near_misses": NEAR_MISSES}

    def handlers(self) -> dict[type, Apply]:
        return {AlertSighting.Heard: _heard, CapaCase.RootCauseRecorded: _root_cause,
                NearMissSighting.Heard: _near_miss}
