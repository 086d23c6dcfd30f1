"""SLA policies on the running incidents service (real NATS JetStream and PostgreSQL, a
ManualClock fast-forwarded): a P1 opened on a Friday evening on a business-hours policy is
due on Monday, warned at risk once and then missed; an incident awaiting its requester has
its deadlines moved on by the working time it waited."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from shared.clock import ManualClock
from shared.contracts import IncidentSlaAtRisk, IncidentSlaBreached, IncidentSlaResumed
from tests.harness import API_KEYS, RunningService, wait_until
from tests.integration.test_incidents_service import alert, listed, publish, published

from services.incidents.main import create_app
from services.incidents.settings import IncidentsSettings

pytestmark = pytest.mark.integration
SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY_EVENING = datetime(2026, 11, 6, 17, 50, tzinfo=SHANGHAI)
POLICIES = """
at_risk: 0.75
calendars:
  office:
    time_zone: Asia/Shanghai
    hours: {mon: "09:00-18:00", tue: "09:00-18:00", wed: "09:00-18:00",
            thu: "09:00-18:00", fri: "09:00-18:00"}
    holidays: CN
policies:
  - {severity: P0, respond: 15m, resolve: 4h}
  - {severity: P1, calendar: office, respond: 30m, resolve: 2h, close: 18h}
  - {severity: P2, respond: 1h, resolve: 72h}
  - {severity: P3, respond: 4h, resolve: 7d}
"""


@pytest.fixture
def service(database_url, nats_url, tmp_path):
    policy_file = tmp_path / "sla.yaml"
    policy_file.write_text(POLICIES, encoding="utf-8")
    settings = IncidentsSettings(database_url=database_url, nats_url=nats_url,
                                 api_keys=API_KEYS, sla_policies_file=str(policy_file))
    clock = ManualClock(FRIDAY_EVENING.astimezone(timezone.utc))
    running = RunningService(create_app(settings, clock=clock)).start()
    yield running
    running.stop()


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


def move_to(service, when: datetime) -> None:
    clock = service.runtime.clock
    clock.advance(when - clock.now())


def opened(client, fingerprint: str) -> dict:
    [row] = wait_until(lambda: [i for i in listed(client)["items"]
                                if i["fingerprint"] == fingerprint], message="incident opened")
    return client.get(f"/v1/incidents/{row['ref']}").json()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_p1_opened_friday_evening_is_due_monday_warned_at_risk_once_then_missed(
        service, nats_url):
    fingerprint = f"fp-sla-{uuid.uuid4().hex[:6]}"
    publish(nats_url, alert(fingerprint, severity="P1"))
    with service.client() as client:
        incident = opened(client, fingerprint)
        ref = incident["ref"]
        # Ten minutes of Friday count; the rest of the half hour is Monday morning's.
        assert at(incident["respond_by"]) == local(2026, 11, 9, 9, 20)
        assert at(incident["resolve_by"]) == local(2026, 11, 9, 10, 50)
        assert at(incident["at_risk_by"]["respond"]) == local(2026, 11, 9, 9, 12, 30)

        move_to(service, local(2026, 11, 8, 23, 0))  # the weekend passes: nothing is due
        move_to(service, local(2026, 11, 9, 9, 13))
        warned = wait_until(lambda: [i["ref"] for i in listed(client, at_risk="true")["items"]],
                            message="at risk in the list")
        assert warned == [ref]
        detail = client.get(f"/v1/incidents/{ref}").json()
        assert detail["at_risk"] == ["respond"] and detail["sla_breaches"] == []
        assert detail["timeline"][-1]["action"] == "SLA at risk"

        move_to(service, local(2026, 11, 9, 9, 21))
        wait_until(lambda: client.get(f"/v1/incidents/{ref}").json()["sla_breaches"]
                   == ["respond"], message="the respond deadline missed")
        wait_until(lambda: listed(client, at_risk="false")["items"], message="list updated")
        assert [i["ref"] for i in listed(client, at_risk="true")["items"]] == []
    breaches = wait_until(lambda: published(nats_url, IncidentSlaBreached, incident["id"]),
                          message="breach published")
    warnings = published(nats_url, IncidentSlaAtRisk, incident["id"])
    assert [(w["kind"], at(w["deadline"])) for w in warnings] == [
        ("respond", local(2026, 11, 9, 9, 20))]  # once
    assert [b["kind"] for b in breaches] == ["respond"]


def test_waiting_for_the_requester_moves_the_deadlines_by_the_working_time_waited(
        service, nats_url):
    fingerprint = f"fp-pause-{uuid.uuid4().hex[:6]}"
    publish(nats_url, alert(fingerprint, severity="P1"))
    with service.client() as client:
        ref = opened(client, fingerprint)["ref"]
        move_to(service, local(2026, 11, 6, 17, 55))
        paused = client.post(f"/v1/incidents/{ref}/await-requester",
                             json={"reason": "请提供收银机日志", "by": "li.na"})
        assert paused.status_code == 200, paused.text
        assert client.post(f"/v1/incidents/{ref}/await-requester",
                           json={"by": "li.na"}).status_code == 409
        # Monday 10:00: the original respond deadline (09:20) has passed, but the clock is
        # stopped: nothing is recorded.
        move_to(service, local(2026, 11, 9, 10, 0))
        wait_until(lambda: listed(client)["items"][0]["paused_since"], message="paused row")
        resumed = client.post(f"/v1/incidents/{ref}/requester-answered", json={"by": "li.na"})
        assert resumed.status_code == 200, resumed.text
        body = resumed.json()
        assert body["sla_breaches"] == [] and body["paused_since"] is None
        # 25 minutes were left at Friday 17:55; 65 working minutes were paused.
        assert at(body["respond_by"]) == local(2026, 11, 9, 10, 25)
        assert at(body["resolve_by"]) == local(2026, 11, 9, 11, 55)
        actions = [e["action"] for e in body["timeline"]]
        assert actions[-2:] == ["awaiting requester", "requester answered"]
        assert client.post(f"/v1/incidents/{ref}/requester-answered",
                           json={"by": "li.na"}).status_code == 409

        [told] = wait_until(lambda: published(nats_url, IncidentSlaResumed, body["id"]),
                            message="resumption published")
        assert at(told["deadlines"]["respond"]) == local(2026, 11, 9, 10, 25)
        assert told["paused_seconds"] == 65 * 60
        move_to(service, local(2026, 11, 9, 10, 26))
        wait_until(lambda: client.get(f"/v1/incidents/{ref}").json()["sla_breaches"]
                   == ["respond"], message="the moved deadline missed")
        row = wait_until(lambda: [i for i in listed(client)["items"]
                                  if i["respond_breached"]], message="list shows the breach")
        assert at(row[0]["respond_by"]) == local(2026, 11, 9, 10, 25)


def test_the_closure_deadline_runs_from_the_resolution(service, nats_url):
    fingerprint = f"fp-close-{uuid.uuid4().hex[:6]}"
    publish(nats_url, alert(fingerprint, severity="P1"))
    with service.client() as client:
        shown = client.get("/v1/sla-policies").json()
        [p1] = [p for p in shown["policies"] if p["severity"] == "P1"]
        assert (p1["calendar"], p1["targets"]["close"]) == ("office", 18 * 3600)
        ref = opened(client, fingerprint)["ref"]
        resolved = client.post(f"/v1/incidents/{ref}/resolve",
                               json={"by": "li.na", "summary": "重启收银机"})
        assert resolved.status_code == 200, resolved.text
        # 18 working hours (two 9-hour office days) from Friday 17:50: Tuesday 17:50.
        assert at(resolved.json()["close_by"]) == local(2026, 11, 10, 17, 50)
        move_to(service, local(2026, 11, 10, 17, 51))
        wait_until(lambda: client.get(f"/v1/incidents/{ref}").json()["sla_breaches"]
                   == ["close"], message="closure deadline missed")
        row = wait_until(lambda: [i for i in listed(client, breached="true")["items"]],
                         message="listed as breached")
        assert row[0]["close_breached"] is True
