"""Manual intake end to end, on real NATS and PostgreSQL. A customer phones 深圳宝安店 about
milk that made her child ill: the form's proposal (complaint) is shown with its confidence and
reasons, the call-centre agent corrects it to food safety, the incident opens with source and
type on IncidentOpened; later the store manager raises it to P0 (a correction is an event on
the timeline and a training label), and once enough labels exist the learned model joins
the rules. Bad input is refused, naming the field, and nothing is recorded."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shared.clock import ManualClock
from shared.contracts import IncidentOpened, IncidentSeverityChanged
from tests.harness import API_KEYS, MANAGER_KEY, RESPONDER_KEY, RunningService, wait_until
from tests.integration.test_incidents_service import published

from services.incidents.main import create_app
from services.incidents.settings import IncidentsSettings

pytestmark = pytest.mark.integration

FOOD_SAFETY = Path(__file__).parents[2] / "examples" / "sla" / "food-safety.yaml"
REPORT = "顾客来电投诉：在宝安店买的牛奶过期了，孩子喝了以后拉肚子"


@pytest.fixture
def service(database_url, nats_url):
    settings = IncidentsSettings(database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
                                 classifier_min_examples=2, classifier_retrain_every=1)
    running = RunningService(create_app(settings, clock=ManualClock())).start()
    yield running
    running.stop()


def test_a_phoned_in_complaint_is_classified_corrected_and_opened(service, nats_url):
    with service.client(RESPONDER_KEY) as api:
        # As the agent types, the form shows the proposal, how sure it is and why.
        proposal = api.post("/v1/intake/proposals", json={"description": REPORT}).json()
        assert proposal["problem_type"] == "complaint" and proposal["method"] == "rules"
        assert 0 < proposal["confidence"] < 1
        assert "matched '投诉'" in proposal["reasons"]
        assert proposal["severity"] == "P2" and proposal["severity_reasons"]
        assert [c["method"] for c in proposal["candidates"]] == ["rules"]

        # Bad input: each refused with the field named, and no incident recorded.
        before = api.get("/v1/incidents").json()["total"]
        ticket = {"title": "牛奶过期致儿童腹泻", "entity": "store-017", "reporter": "chen.li",
                  "source": "phone", "description": REPORT,
                  "attachments": ["https://files.example.com/receipt-0912.jpg"]}
        for wrong, field in (({"problem_type": "milk"}, "problem_type"),
                             ({"severity": "P5"}, "severity"),
                             ({"source": "fax"}, "source"),
                             ({"attachments": ["not a link"]}, "attachments.0")):
            refused = api.post("/v1/incidents", json={**ticket, **wrong})
            assert refused.status_code == 422, refused.text
            assert field in [e["field"] for e in refused.json()["errors"]], refused.text
        assert api.post("/v1/intake/proposals", json={"description": "x" * 70_000}).status_code == 422
        assert api.get("/v1/incidents").json()["total"] == before

        # The agent corrects the type: food safety, whose usual severity is P1.
        opened = api.post("/v1/incidents", json={**ticket, "problem_type": "food_safety"})
        assert opened.status_code == 201, opened.text
        incident = opened.json()
        assert incident["severity"] == "P1"
        intake = incident["intake"]
        assert intake["source"] == "phone" and intake["problem_type"] == "food_safety"
        assert intake["proposal"]["problem_type"] == "complaint" and intake["labelled"]
        assert intake["corrected"] == ["problem_type"]
        assert intake["attachments"] == ["https://files.example.com/receipt-0912.jpg"]

        news = wait_until(lambda: published(nats_url, IncidentOpened, incident["id"]),
                          message="IncidentOpened on the bus")
        assert (news[0]["source"], news[0]["problem_type"], news[0]["reporter"]) == (
            "phone", "food_safety", "chen.li")
        assert news[0]["description"] == REPORT and news[0]["attachments"] == intake["attachments"]

        # Later, three customers are in hospital: the store manager raises it.
        refused = api.post(f"/v1/incidents/{incident['ref']}/classification",
                           json={"problem_type": "food_safety", "reason": "同上", "by": "li.na"})
        assert refused.status_code == 409 and "send a different" in refused.text
        refused = api.post(f"/v1/incidents/{incident['ref']}/classification",
                           json={"problem_type": "fire", "reason": "x", "by": "li.na"})
        assert refused.status_code == 422 and "problem_type" in refused.text
        corrected = api.post(f"/v1/incidents/{incident['ref']}/classification", json={
            "severity": "P0", "reason": "三名顾客送医", "by": "li.na"})
        assert corrected.status_code == 200, corrected.text
        now = corrected.json()
        assert now["severity"] == "P0" and now["intake"]["corrections"] == 1
        assert [e["action"] for e in now["timeline"]][-2:] == ["reclassified", "severity changed"]
        assert "severity P1 → P0" in now["timeline"][-2]["detail"]
        wait_until(lambda: published(nats_url, IncidentSeverityChanged, incident["id"]),
                   message="the raise on the bus")

        # A second label of another type: the model has enough (2) and retrains by itself.
        assert api.post("/v1/incidents", json={
            "title": "冷柜不制冷", "entity": "store-018", "reporter": "li.na",
            "source": "inspection", "problem_type": "equipment_failure",
            "description": "巡检发现冷柜温度12度"}).status_code == 201
        status = wait_until(lambda: (s := api.get("/v1/intake/model").json())["trained"] and s,
                            message="the model trained")
        assert status["types"] == {"equipment_failure": 1, "food_safety": 1}
        proposal = api.post("/v1/intake/proposals", json={"description": REPORT}).json()
        assert [c["method"] for c in proposal["candidates"]] == ["rules", "model"]
        assert proposal["candidates"][1]["reasons"]

    with service.client(MANAGER_KEY) as manager:
        assert manager.post("/v1/intake/model/train").json()["examples"] == 2
        types = {t["id"] for t in manager.get("/v1/intake/problem-types").json()}
    assert {"supplier_delay", "complaint", "food_safety", "system_outage"} <= types


@pytest.fixture
def food_desk(database_url, nats_url):
    """The food-safety seed's SLA policies (P0 food_safety: resolve in 2 h, P0: in 4 h)."""
    settings = IncidentsSettings(database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
                                 classifier_min_examples=2, classifier_retrain_every=1,
                                 sla_policies_file=str(FOOD_SAFETY))
    running = RunningService(create_app(settings, clock=ManualClock())).start()
    yield running
    running.stop()


def test_a_declared_type_picks_its_sla_policy_and_a_later_correction_is_a_label(food_desk):
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text)

    with food_desk.client(RESPONDER_KEY) as api:
        # Declared as food safety at P0: the type's own policy (resolve in 2 h, not 4 h).
        typed = api.post("/v1/incidents", json={
            "title": "牛奶过期致儿童腹泻", "entity": "store-017", "reporter": "chen.li",
            "source": "phone", "description": REPORT, "problem_type": "food_safety",
            "severity": "P0"}).json()
        assert typed["sla_policy"] == "P0/food_safety"
        assert at(typed["resolve_by"]) - at(typed["opened_at"]) == timedelta(hours=2)

        # Declared without a type: the rules' guess (complaint) is no label yet.
        guessed = api.post("/v1/incidents", json={
            "title": "冰淇淋都化了", "entity": "store-018", "reporter": "li.na", "source": "im",
            "description": "顾客来电投诉：冰淇淋都化了，要求退款", "severity": "P1"}).json()
        assert guessed["intake"]["problem_type"] == "complaint"
        assert not guessed["intake"]["labelled"]
        assert not api.get("/v1/intake/model").json()["trained"]  # one label of one type

        # Lowering through a correction is a manager's call, as on /severity: refused whole.
        refused = api.post(f"/v1/incidents/{guessed['ref']}/classification", json={
            "problem_type": "equipment_failure", "severity": "P3", "reason": "只是冰柜",
            "by": "li.na"})
        assert refused.status_code == 403 and "needs the manager role" in refused.text
        after = api.get(f"/v1/incidents/{guessed['ref']}").json()
        assert (after["severity"], after["intake"]["problem_type"]) == ("P1", "complaint")
        assert after["intake"]["corrections"] == 0 and after["timeline"] == guessed["timeline"]

        # The type alone is the responder's to correct; the correction is a training label.
        corrected = api.post(f"/v1/incidents/{guessed['ref']}/classification", json={
            "problem_type": "equipment_failure", "reason": "设备问题", "by": "li.na"})
        assert corrected.status_code == 200, corrected.text
        assert corrected.json()["intake"]["labelled"]
        status = wait_until(lambda: (s := api.get("/v1/intake/model").json())["trained"] and s,
                            message="the model trained on the corrected label")
        assert status["types"] == {"food_safety": 1, "equipment_failure": 1}

    with food_desk.client(MANAGER_KEY) as manager:
        lowered = manager.post(f"/v1/incidents/{guessed['ref']}/classification", json={
            "severity": "P3", "reason": "只影响一台冰柜", "by": "wang.jianguo"})
        assert lowered.status_code == 200, lowered.text
        now = lowered.json()
        # P3's deadlines from the food-safety file, counted from the opening.
        assert now["severity"] == "P3" and now["sla_policy"] == "P3"
        assert at(now["resolve_by"]) - at(now["opened_at"]) == timedelta(days=7)
