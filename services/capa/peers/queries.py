"""Reads behind 举一反三: what the case is about and the signals of its entity's peers, from the
read models (capa's own projection of what it heard on the bus)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from services.capa.domain.spread import Cause, NearMiss, Sighting, Subject

OWN_ALERT = """SELECT rule, labels FROM capa_alert_sightings WHERE fingerprint = $1
ORDER BY started_at DESC LIMIT 1"""
OWN_INCIDENT = "SELECT rule, labels FROM knowledge_incidents WHERE incident_id = $1"
SIGHTINGS = """SELECT rule, name, entity, labels, started_at FROM capa_alert_sightings
WHERE (rule = $1 OR name = $1) AND started_at >= $2 AND entity <> $3
ORDER BY started_at DESC LIMIT $4"""
NEAR_MISSES = """SELECT name, metric, entity, labels, bound, threshold, value, observed_at
FROM capa_near_misses WHERE (rule_id = $1 OR name = $1) AND observed_at >= $2 AND entity <> $3
ORDER BY observed_at DESC LIMIT $4"""
# Another case's entity is known from its row; its labels from its incident's opening, else
# from the latest alert capa heard on that entity.
CAUSES = """SELECT cc.ref, cc.entity, c.category, c.recorded_at,
       COALESCE(ki.labels, (SELECT s.labels FROM capa_alert_sightings s WHERE s.entity = cc.entity
                            ORDER BY s.started_at DESC LIMIT 1), '{}'::jsonb) AS labels
FROM capa_case_causes c
JOIN capa_cases cc ON cc.id = c.capa_id
LEFT JOIN knowledge_incidents ki ON ki.incident_id = c.incident_id
WHERE c.category = $1 AND c.recorded_at >= $2 AND c.capa_id <> $3 AND cc.entity <> $4
ORDER BY c.recorded_at DESC LIMIT $5"""
LIMIT = 5000  # signals read per look: far more peers than a person could act on


def _labels(value: Any) -> dict[str, str]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


async def subject_of(conn: asyncpg.Connection, case: dict[str, Any]) -> Subject:
    """The rule and labels of the case's incident: from the alert it grew from when capa heard
    it, else from the incident's opening (its `alertname` label names the rule)."""
    root = case["root_cause"] or {}
    rule, labels = None, {}
    fingerprint = case["effectiveness"]["fingerprint"]
    own = await conn.fetchrow(OWN_ALERT, fingerprint) if fingerprint else None
    opened = await conn.fetchrow(OWN_INCIDENT, case["incident_id"])
    if opened is not None:
        labels = _labels(opened["labels"])
        rule = opened["rule"]
    if own is not None:
        labels = {**labels, **_labels(own["labels"])}
        rule = own["rule"]
    return Subject(entity=case["entity"], labels=labels, rule=rule,
                   category=root.get("category"))


async def near_misses(conn: asyncpg.Connection, subject: Subject,
                      since: datetime) -> list[NearMiss]:
    """Where the case's rule nearly fired on other entities since `since`."""
    if not subject.rule:
        return []
    return [NearMiss(r["name"], r["metric"], r["entity"], _labels(r["labels"]), r["bound"],
                     r["threshold"], r["value"], r["observed_at"])
            for r in await conn.fetch(NEAR_MISSES, subject.rule, since, subject.entity, LIMIT)]


async def signals(conn: asyncpg.Connection, case: dict[str, Any], subject: Subject,
                  since: datetime) -> tuple[list[Sighting], list[Cause]]:
    sightings = [Sighting(r["rule"], r["name"], r["entity"], _labels(r["labels"]),
                          r["started_at"])
                 for r in (await conn.fetch(SIGHTINGS, subject.rule, since, subject.entity, LIMIT)
                           if subject.rule else [])]
    causes = [Cause(r["ref"], r["entity"], _labels(r["labels"]), r["category"], r["recorded_at"])
              for r in (await conn.fetch(CAUSES, subject.category, since, case["id"],
                                         subject.entity, LIMIT) if subject.category else [])]
    return sightings, causes
