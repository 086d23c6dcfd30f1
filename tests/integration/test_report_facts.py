"""The reports' read model on PostgreSQL: staffing that names the organisation's units (the
entity's unit and those above it) places an incident in each of them, keeping its alert's
unit label, and `unit=` of the self-check table then finds it by any of them."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import asyncpg
import pytest

from services.incidents.projections import IncidentsProjection
from services.incidents.reports.facts import ReportFactsProjection, opened, staffed
from services.incidents.reports.period import period_of
from services.incidents.reports.selfcheck import self_check
from services.incidents.sla_policies import default_policies

pytestmark = pytest.mark.integration
AT = datetime(2026, 12, 8, 9, 0, tzinfo=timezone.utc)


def test_staffing_places_the_incident_in_its_unit_and_its_region(database_url):
    async def story():
        conn = await asyncpg.connect(database_url)
        try:
            for projection in (IncidentsProjection(), ReportFactsProjection()):
                for ddl in projection.tables.values():
                    await conn.execute(ddl)
            ident = uuid.uuid4()
            await conn.execute(
                "INSERT INTO incidents (id, ref, status, severity, title, entity, fingerprint, "
                "opened_at, respond_by, resolve_by) VALUES ($1, 'P1-2026-12-001', 'new', "
                "'P1', 't', '深圳宝安店', 'fp', $2, $2, $2)", ident, AT)
            alert = {"source": "rule", "name": "queue", "labels": {"unit": "华南"}}
            await opened(conn, SimpleNamespace(originator_id=ident, alert=alert,
                                               entity="深圳宝安店", at=AT))
            await staffed(conn, SimpleNamespace(originator_id=ident, unit_path=[
                {"key": "south", "name": "华南战区"}, {"key": "sz-baoan", "name": "深圳宝安店"}]))
            await staffed(conn, SimpleNamespace(originator_id=ident))  # an older event: none
            row = await conn.fetchrow("SELECT unit, unit_keys FROM report_facts")
            week = period_of({"week": "2026-W50"}, AT)
            found = {unit: (await self_check(conn, week, AT, unit, default_policies()))["opened"]
                     for unit in ("south", "华南战区", "深圳宝安店", "华南", "华北")}
            return row, found
        finally:
            await conn.close()

    row, found = asyncio.run(story())
    assert row["unit"] == "深圳宝安店"
    assert list(row["unit_keys"]) == ["south", "华南战区", "sz-baoan", "深圳宝安店", "华南"]
    assert found == {"south": 1, "华南战区": 1, "深圳宝安店": 1, "华南": 1, "华北": 0}
