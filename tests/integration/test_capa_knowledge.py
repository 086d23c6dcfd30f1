"""The knowledge base against real NATS and PostgreSQL: a closed case becomes an entry, a new
similar incident gets it recommended with the reasons it matched, and feedback is kept."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.clock import ManualClock
from shared.contracts import CloudEvent, Contract, IncidentOpened, IncidentResolved
from tests.harness import (
    API_KEYS, PERSON_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until,
)
from tests.integration.test_capa_service import case_of, run

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(create_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS), clock=clock)).start()
    yield service
    service.stop()


async def _publish(js, contract: Contract, incident_id: str) -> None:
    envelope = CloudEvent(id=f"incidents:{uuid.uuid4()}", source="closedloop/incidents",
                          type=contract.type_name(), time=NOW, subject=incident_id,
                          data=contract.model_dump(mode="json"))
    await js.publish(contract.type_name(), envelope.to_bytes(),
                     headers={"Nats-Msg-Id": envelope.id})


def opened(incident_id: str, title: str, rule: str, **labels: str) -> IncidentOpened:
    return IncidentOpened(
        incident_id=incident_id, ref=f"P1-{incident_id[-6:]}", fingerprint=f"fp-{incident_id}",
        severity="P1", title=title, entity="checkout", alert_id=f"al-{incident_id}",
        opened_at=NOW, respond_by=NOW + timedelta(minutes=15), resolve_by=NOW + timedelta(hours=4),
        labels={"alertname": rule, "entity": "checkout", "severity": "P1", **labels})


def close_a_case(capa, nats_url, incident_id: str, rule: str) -> str:
    """Opened, resolved, analysed, acted on, verified and checked by someone else: the case
    closes."""
    api = capa.client(RESPONDER_KEY)
    run(_publish, nats_url, opened(incident_id, "订单服务 5xx：数据库连接池耗尽", rule,
                                   service="checkout", tier="web"), incident_id)
    run(_publish, nats_url, IncidentResolved(
        incident_id=incident_id, ref=f"P1-{incident_id[-6:]}", severity="P1",
        title="订单服务 5xx：数据库连接池耗尽", entity="checkout", by="alice",
        summary="连接池扩容", at=NOW), incident_id)
    capa_id = wait_until(lambda: case_of(api, incident_id), message="the case")["id"]
    assert api.post(f"/v1/capa/{capa_id}/root-cause", json={
        "by": "alice", "method": "fishbone", "category": "machine",
        "statement": "数据库连接池上限 10 从未做过压测"}).status_code == 200
    for kind, title in (("corrective", "连接池扩容到 50"), ("preventive", "CI 加连接池压测")):
        assert api.post(f"/v1/capa/{capa_id}/actions", json={
            "by": "lead", "kind": kind, "title": title, "owner": "alice",
            "due_date": NOW.date().isoformat(), "acceptance_criteria": "p99 < 300ms"}
        ).status_code == 201
    bob = capa.client(PERSON_KEYS["bob"])
    for action in ("A-1", "A-2"):
        api.post(f"/v1/capa/{capa_id}/actions/{action}/complete",
                 json={"by": "alice", "evidence": "PR"})
        verified = bob.post(f"/v1/capa/{capa_id}/actions/{action}/verify",
                            json={"verifier": "bob", "effective": True, "note": "ok"})
    # No alert to watch: a person other than the owners records the effectiveness check.
    assert verified.json()["status"] == "effectiveness"
    checked = bob.post(f"/v1/capa/{capa_id}/effectiveness-check", json={
        "verifier": "bob", "text": "p99 under 300ms at two peaks", "evidence": "grafana"})
    assert checked.json()["status"] == "closed", checked.text
    return capa_id


def test_a_closed_case_becomes_knowledge_recommended_for_a_similar_incident(
        capa, nats_url, clock):
    first, second = f"inc-{uuid.uuid4()}", f"inc-{uuid.uuid4()}"
    rule = f"DbPoolExhausted-{uuid.uuid4().hex[:6]}"
    api, viewer = capa.client(RESPONDER_KEY), capa.client(VIEWER_KEY)
    capa_id = close_a_case(capa, nats_url, first, rule)

    # An entry needs a symptom; the rest is prefilled from the case.
    no_symptom = api.post("/v1/knowledge", json={"by": "alice", "capa_id": capa_id})
    assert no_symptom.status_code == 422
    assert [e["field"] for e in no_symptom.json()["errors"]] == ["symptom"]
    blank = api.post("/v1/knowledge", json={"by": "alice", "capa_id": capa_id, "symptom": " "})
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "symptom"
    created = api.post("/v1/knowledge", json={
        "by": "alice", "capa_id": capa_id, "symptom": "结账接口大量 5xx，数据库连接数打满",
        "tags": ["db", "连接池"], "review_by": (NOW.date() + timedelta(days=30)).isoformat()})
    assert created.status_code == 201, created.text
    entry = created.json()
    assert created.headers["Location"] == f"/v1/knowledge/{entry['id']}"
    assert (entry["fix"], entry["prevention"]) == ("连接池扩容到 50", "CI 加连接池压测")
    assert (entry["root_cause"], entry["category"]) == ("数据库连接池上限 10 从未做过压测", "machine")
    assert (entry["rule"], entry["labels"]["tier"], entry["stale"]) == (rule, "web", False)
    assert api.post("/v1/knowledge", json={"by": "alice", "capa_id": capa_id,
                                           "symptom": "again"}).status_code == 409

    # Search finds it in Chinese and in English.
    hits = wait_until(lambda: viewer.get("/v1/knowledge", params={"q": "连接池"}).json()["items"],
                      message="the entry in search")
    assert hits[0]["id"] == entry["id"] and "连接" in hits[0]["matched"]
    assert viewer.get("/v1/knowledge", params={"q": "db"}).json()["items"][0]["id"] == entry["id"]

    # A new incident from the same rule, on the same kind of entity: recommended, with reasons.
    run(_publish, nats_url, opened(second, "支付服务数据库连接池耗尽", rule, tier="web",
                                   service="payments"), second)

    def recommended():
        answer = viewer.get(f"/v1/incidents/{second}/recommendations")
        return answer.status_code == 200 and [
            r for r in answer.json()["items"] if r["entry"]["id"] == entry["id"]]

    [rec] = wait_until(recommended, message="the entry recommended for the new incident")
    reasons = {m["field"]: m for m in rec["matched"]}
    assert {"text", "rule", "entity", "labels"} <= set(reasons)
    assert reasons["rule"]["value"] == rule and reasons["labels"]["value"] == "tier=web"
    assert "连接" in reasons["text"]["value"].split(", ")
    assert rec["score"] == pytest.approx(sum(m["score"] for m in rec["matched"]), abs=1e-3)

    # Feedback is recorded and feeds the ranking.
    rated = api.post(f"/v1/incidents/{second}/recommendations/{entry['id']}/feedback",
                     json={"by": "alice", "useful": True})
    assert rated.status_code == 200 and rated.json()["useful"] == 1
    better = wait_until(lambda: (r := recommended()) and r[0]["feedback"]["useful"] == 1 and r,
                        message="the vote in the ranking")
    assert better[0]["score"] > rec["score"]
    unknown = api.post(f"/v1/incidents/inc-never/recommendations/{entry['id']}/feedback",
                       json={"by": "alice", "useful": True})
    assert unknown.status_code == 404
    assert viewer.get("/v1/incidents/inc-never/recommendations").status_code == 404

    # 知识评审: once the service's clock passes the review date the entry is flagged stale;
    # re-dating it is an edit.
    clock.advance(timedelta(days=31))
    assert viewer.get(f"/v1/knowledge/{entry['id']}").json()["stale"] is True
    stale_ids = [i["id"] for i in viewer.get("/v1/knowledge", params={"stale": "true"}
                                             ).json()["items"]]
    assert entry["id"] in stale_ids
    reviewed = api.patch(f"/v1/knowledge/{entry['id']}", json={
        "by": "bob", "review_by": (clock.now().date() + timedelta(days=90)).isoformat()})
    assert reviewed.status_code == 200 and reviewed.json()["stale"] is False
    assert api.patch(f"/v1/knowledge/{entry['id']}", json={"by": "bob", "symptom": ""}
                     ).json()["errors"][0]["field"] == "symptom"
    wait_until(lambda: viewer.get(f"/v1/knowledge/{entry['id']}").json()["stale"] is False,
               message="the review in the read model")
    assert isinstance(date.fromisoformat(reviewed.json()["review_by"]), date)
