"""The wall's summary and `whoami` on the running incidents service (real NATS and
PostgreSQL, a ManualClock): open incidents by severity and region, a P0 warned at risk and
then overdue, today's counts, the newest P0s; cards carry at_risk and overdue; `whoami`
names the caller's role and person; refusals name the parameter."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.clock import ManualClock
from tests.harness import (
    API_KEYS, INGEST_KEY, PERSON_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until,
)
from tests.integration.test_incidents_board import SOUTH, declare, staffed

from services.incidents.main import create_app
from services.incidents.settings import IncidentsSettings

pytestmark = pytest.mark.integration
START = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
POLICIES = """
at_risk: 0.5
policies:
  - {severity: P0, respond: 10m, resolve: 4h}
  - {severity: P1, respond: 1h, resolve: 24h}
  - {severity: P2, respond: 2h, resolve: 72h}
  - {severity: P3, respond: 4h, resolve: 7d}
"""


@pytest.fixture
def service(database_url, nats_url, tmp_path):
    policies = tmp_path / "sla.yaml"
    policies.write_text(POLICIES, encoding="utf-8")
    settings = IncidentsSettings(database_url=database_url, nats_url=nats_url,
                                 api_keys=API_KEYS, sla_policies_file=str(policies),
                                 sla_poll_seconds=0.1)
    running = RunningService(create_app(settings, clock=ManualClock(START))).start()
    yield running
    running.stop()


def summary(client, **params) -> dict:
    response = client.get("/v1/board/summary", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def card(client, ref: str) -> dict:
    board = client.get("/v1/board").json()
    return next(c for column in board["columns"] for c in column["cards"] if c["ref"] == ref)


def test_the_wall_counts_open_incidents_and_follows_a_p0_from_at_risk_to_overdue(service,
                                                                                  nats_url):
    clock, client = service.runtime.clock, service.client(RESPONDER_KEY)
    before = summary(client)
    p0 = declare(client, "冷柜温度过高", "深圳宝安店", "P0")
    p1 = declare(client, "会员积分不到账", "广州天河店", "P1")
    declare(client, "小票打印机缺纸", "北京朝阳店", "P2")
    staffed(nats_url, p0, SOUTH)
    wait_until(lambda: summary(client)["by_region"] and any(
        r["region"] == "华南区" for r in summary(client)["by_region"]), message="region known")
    now = summary(client)
    assert now["open"] == before["open"] + 3
    assert now["by_severity"]["P0"] == before["by_severity"]["P0"] + 1
    assert {"region": "华南区", "open": 1} in now["by_region"]
    assert now["today"]["opened"] == before["today"]["opened"] + 3
    assert now["newest_p0"][0]["ref"] == p0["ref"]
    assert not card(client, p0["ref"])["at_risk"] and not card(client, p0["ref"])["overdue"]

    clock.advance(timedelta(minutes=6))  # half of the P0's 10 minutes to respond: at risk
    risky = wait_until(lambda: [c for c in summary(client)["at_risk_cards"]
                                if c["ref"] == p0["ref"]], message="the P0 warned at risk")
    assert risky[0]["at_risk"] and not risky[0]["overdue"]
    assert card(client, p0["ref"])["at_risk"]
    assert summary(client)["at_risk"] >= 1

    clock.advance(timedelta(minutes=5))  # past the 10 minutes: missed, overdue
    wait_until(lambda: card(client, p0["ref"])["overdue"], message="the P0 overdue")
    assert summary(client)["overdue"] >= 1 and not card(client, p0["ref"])["at_risk"]
    assert client.post(f"/v1/incidents/{p1['ref']}/acknowledge",
                       json={"by": "li"}).status_code == 200
    wait_until(lambda: summary(client)["today"]["acknowledged"] == 1,
               message="the acknowledgement counted today")

    clock.advance(timedelta(days=1))  # a new day: today starts again at midnight
    assert summary(client)["today"]["opened"] == 0
    shanghai = summary(client, tz="Asia/Shanghai")
    assert shanghai["today_from"] == "2026-12-02T00:00:00+08:00"


def test_summary_refusals_name_the_parameter(service):
    client = service.client(VIEWER_KEY)
    for params, field in (({"tz": "Mars/Base"}, "tz"), ({"colour": "red"}, "colour"),
                          ({"newest": "99"}, "query.newest")):
        refused = client.get("/v1/board/summary", params=params)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field


def test_whoami_names_the_role_and_the_person(service):
    viewer = service.client(VIEWER_KEY).get("/v1/whoami").json()
    assert viewer == {"role": "viewer", "roles": ["viewer"], "person": None,
                      "source": "API key", "may": ["viewer"]}
    alice = service.client(PERSON_KEYS["alice"]).get("/v1/whoami").json()
    assert (alice["role"], alice["person"], alice["may"]) == (
        "responder", "alice", ["viewer", "responder"])
    ingest = service.client(INGEST_KEY).get("/v1/whoami")
    assert ingest.status_code == 403 and "ingest" in ingest.json()["detail"]
    assert service.client("harness-wrong-0a9b8c7d6e5f").get("/v1/whoami").status_code == 401
