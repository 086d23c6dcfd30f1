"""Detector read models: the rule list and the alert board."""
from __future__ import annotations

import json
from typing import Any

from shared.readmodels import Projection

from services.detector.domain import Alert, Rule


class DetectorBoard(Projection):
    name = "detector_board"
    tables = {
        "rules": """CREATE TABLE IF NOT EXISTS rules (
            id uuid PRIMARY KEY, name text NOT NULL, metric text NOT NULL, operator text NOT NULL,
            threshold double precision NOT NULL, severity text NOT NULL, labels jsonb NOT NULL,
            description text NOT NULL, enabled boolean NOT NULL, version int NOT NULL,
            updated_at timestamptz NOT NULL)""",
        "alerts": """CREATE TABLE IF NOT EXISTS alerts (
            fingerprint text PRIMARY KEY, alert_id text NOT NULL, source text NOT NULL,
            name text NOT NULL, entity text NOT NULL, severity text NOT NULL, status text NOT NULL,
            value double precision, threshold double precision, rule_id text, summary text NOT NULL,
            started_at timestamptz, resolved_at timestamptz, updated_at timestamptz NOT NULL)""",
    }

    def handlers(self) -> dict[type, Any]:
        return {
            Rule.Defined: self.rule_defined, Rule.Changed: self.rule_changed,
            Rule.Disabled: self.rule_enabled(False), Rule.Enabled: self.rule_enabled(True),
            Alert.Raised: self.alert_raised, Alert.Resolved: self.alert_resolved,
        }

    async def rule_defined(self, conn, e) -> None:
        await conn.execute(
            "INSERT INTO rules VALUES ($1,$2,$3,$4,$5,$6,$7,$8,true,$9,$10) ON CONFLICT (id) DO NOTHING",
            e.originator_id, e.name, e.metric, e.operator, e.threshold, e.severity,
            json.dumps(e.labels), e.description, e.originator_version, e.at)

    async def rule_changed(self, conn, e) -> None:
        await conn.execute(
            "UPDATE rules SET threshold=$2, severity=$3, description=$4, version=$5, updated_at=$6 "
            "WHERE id=$1", e.originator_id, e.threshold, e.severity, e.description,
            e.originator_version, e.at)

    def rule_enabled(self, enabled: bool):
        async def apply(conn, e) -> None:
            await conn.execute("UPDATE rules SET enabled=$2, version=$3, updated_at=$4 WHERE id=$1",
                               e.originator_id, enabled, e.originator_version, e.at)
        return apply

    async def alert_raised(self, conn, e) -> None:
        await conn.execute(
            """INSERT INTO alerts VALUES ($1,$2,$3,$4,$5,$6,'firing',$7,$8,$9,$10,$11,NULL,$12)
               ON CONFLICT (fingerprint) DO UPDATE SET alert_id=$2, severity=$6, status='firing',
               value=$7, threshold=$8, summary=$10, started_at=$11, resolved_at=NULL, updated_at=$12""",
            e.fingerprint, e.alert_id, e.source, e.name, e.entity, e.severity, e.value,
            e.threshold, e.rule_id, e.summary, e.started_at, e.at)

    async def alert_resolved(self, conn, e) -> None:
        await conn.execute(
            "UPDATE alerts SET status='resolved', value=$2, resolved_at=$3, updated_at=$4 "
            "WHERE fingerprint=$1", e.fingerprint, e.value, e.resolved_at, e.at)
