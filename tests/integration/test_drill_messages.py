"""A drill's messages over real NATS and PostgreSQL: a P2 drill declared on 深圳宝安店 pages
its store manager like any P2, and what she reads leads with 【演练】 (the webhook's JSON says
`drill`); a real P2 next to it is not marked."""
from __future__ import annotations

import json

import pytest

from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from tests.harness import API_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until
from tests.integration.test_notifier_raci import store_network, told
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, notifier, receiver,
)

pytestmark = pytest.mark.integration


def test_a_drills_page_is_marked_and_a_real_ones_is_not(
        notifier, receiver, database_url, nats_url, clock):
    incidents = RunningService(incidents_app(IncidentsSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS), clock=clock)).start()
    try:
        store_network(notifier, receiver)  # P2: li.na (店长) is R and A
        opened = {}
        with incidents.client(RESPONDER_KEY) as api:
            for drill in (True, False):
                declared = api.post("/v1/incidents", json={
                    "severity": "P2", "title": "冷柜断电", "entity": "store-017",
                    "reporter": "zhou.min", "drill": drill})
                assert declared.status_code == 201, declared.text
                opened[drill] = declared.json()["id"]
        for drill, iid in opened.items():
            wait_until(lambda: told(receiver, iid, "incident.opened"), WAIT, "the page")
            [page] = [json.loads(r["body"]) for r in receiver.received("/im", iid)
                      if json.loads(r["body"])["reason"] == "incident.opened"]
            assert page.get("drill", False) is drill
            with notifier.client(VIEWER_KEY) as viewer:
                message = viewer.get(f"/v1/deliveries/{page['delivery_id']}/message")
            assert message.status_code == 200, message.text
            shown = message.json()
            assert shown["subject"].startswith("【演练】") is drill, shown["subject"]
            assert shown["text"].startswith("【演练】") is drill
    finally:
        incidents.stop()
