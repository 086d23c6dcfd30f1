"""Detector read models: the rule list, the alert board and rule health."""
from __future__ import annotations

import json
from typing import Any

from shared.readmodels import Projection
from shared.row_writes import own_rows

from services.detector.domain import Alert, Rule


class DetectorBoard(Projection):
    name = "detector_board"
    tables = {
        "rules": """CREATE TABLE IF NOT EXISTS rules (
            id uuid PRIMARY KEY, name text NOT NULL UNIQUE, metric text NOT NULL,
            enabled boolean NOT NULL, version int NOT NULL, definition jsonb NOT NULL,
            updated_by text NOT NULL, updated_at timestamptz NOT NULL)""",
        "alerts": """CREATE TABLE IF NOT EXISTS alerts (
            fingerprint text PRIMARY KEY, alert_id text NOT NULL, source text NOT NULL,
            name text NOT NULL, entity text NOT NULL, severity text NOT NULL, status text NOT NULL,
            value double precision, threshold double precision, rule_id text, summary text NOT NULL,
            started_at timestamptz, resolved_at timestamptz, updated_at timestamptz NOT NULL)""",
        # Per rule and UTC day: what it raised, what its budget held back, and how the
        # incidents it opened were judged. Noisy rules stand out here.
        "rule_health": """CREATE TABLE IF NOT EXISTS rule_health (
            rule_id text NOT NULL, day date NOT NULL, raised int NOT NULL DEFAULT 0,
            suppressed int NOT NULL DEFAULT 0, confirmed int NOT NULL DEFAULT 0,
            false_positive int NOT NULL DEFAULT 0, PRIMARY KEY (rule_id, day))""",
        # How each incident grown from a rule's alert was judged: backtests use the
        # confirmed ones as labelled windows.
        "alert_verdicts": """CREATE TABLE IF NOT EXISTS alert_verdicts (
            fingerprint text NOT NULL, incident text NOT NULL, rule_id text NOT NULL,
            entity text NOT NULL, verdict text NOT NULL, started_at timestamptz,
            resolved_at timestamptz, at timestamptz NOT NULL, PRIMARY KEY (fingerprint, incident))""",
    }

    def handlers(self) -> dict[type, Any]:
        return {
            Rule.Defined: self.rule_defined, Rule.Redefined: self.rule_defined,
            Alert.Raised: self.alert_raised, Alert.Resolved: self.alert_resolved,
            Alert.SeverityRaised: self.alert_worsened,
            Alert.Suppressed: self.count("suppressed", "started_at"),
            Alert.Judged: self.judged,
            Alert.VerdictWithdrawn: self.verdict_withdrawn,
        }

    async def rule_defined(self, conn, e) -> None:
        d = e.definition
        await conn.execute(
            """INSERT INTO rules VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO UPDATE
               SET enabled=$4, version=$5, definition=$6, updated_by=$7, updated_at=$8""",
            e.originator_id, d["name"], d["metric"], d.get("enabled", True),
            e.originator_version, json.dumps(d), e.actor, e.at)

    @own_rows(key=lambda e: e.fingerprint)
    async def alert_raised(self, conn, e) -> None:
        await conn.execute(
            """INSERT INTO alerts VALUES ($1,$2,$3,$4,$5,$6,'firing',$7,$8,$9,$10,$11,NULL,$12)
               ON CONFLICT (fingerprint) DO UPDATE SET alert_id=$2, severity=$6, status='firing',
               value=$7, threshold=$8, summary=$10, started_at=$11, resolved_at=NULL, updated_at=$12""",
            e.fingerprint, e.alert_id, e.source, e.name, e.entity, e.severity, e.value,
            e.threshold, e.rule_id, e.summary, e.started_at, e.at)
        if e.rule_id and e.source == "rule":
            await self._add(conn, e.rule_id, e.started_at, "raised")

    @own_rows(key=lambda e: e.fingerprint)
    async def alert_worsened(self, conn, e) -> None:
        await conn.execute(
            "UPDATE alerts SET severity=$2, value=$3, summary=$4, updated_at=$5 "
            "WHERE fingerprint=$1 AND alert_id=$6", e.fingerprint, e.severity, e.value,
            e.summary, e.at, e.alert_id)

    @own_rows(key=lambda e: e.fingerprint)
    async def alert_resolved(self, conn, e) -> None:
        await conn.execute(
            "UPDATE alerts SET status='resolved', value=$2, resolved_at=$3, updated_at=$4 "
            "WHERE fingerprint=$1", e.fingerprint, e.value, e.resolved_at, e.at)

    def count(self, column: str, when: str):
        @own_rows  # a counter: adds commute
        async def apply(conn, e) -> None:
            await self._add(conn, e.rule_id, getattr(e, when), column)
        return apply

    async def judged(self, conn, e) -> None:
        if e.rule_id:
            column = "false_positive" if e.verdict == "false_positive" else "confirmed"
            await self._add(conn, e.rule_id, e.at, column)
            await conn.execute(
                "INSERT INTO alert_verdicts VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING",
                e.fingerprint, e.incident, e.rule_id,
                e.entity, e.verdict, e.started_at, e.resolved_at, e.at)

    async def verdict_withdrawn(self, conn, e) -> None:
        """A drill: the verdict leaves rule health on the day it was counted, and the
        labelled windows backtests use."""
        judged = await conn.fetchrow(
            "DELETE FROM alert_verdicts WHERE fingerprint = $1 AND incident = $2"
            " RETURNING verdict, at", e.fingerprint, e.incident)
        if e.rule_id and judged is not None:
            column = "false_positive" if judged["verdict"] == "false_positive" else "confirmed"
            await conn.execute(
                f"""UPDATE rule_health SET {column} = {column} - 1
                    WHERE rule_id = $1 AND day = ($2 AT TIME ZONE 'UTC')::date""",
                e.rule_id, judged["at"])

    @staticmethod
    async def _add(conn, rule_id: str, at, column: str) -> None:
        await conn.execute(
            f"""INSERT INTO rule_health (rule_id, day, {column}) VALUES ($1, ($2 AT TIME ZONE 'UTC')::date, 1)
                ON CONFLICT (rule_id, day) DO UPDATE SET {column} = rule_health.{column} + 1""",
            rule_id, at)
