"""The progress cadence (进展汇报) end to end. A P0 on 深圳宝安店 owes its audience an update
every 4 hours. Nobody posts one: at 80 % of the time its Responsible (the 店长, who took it
on) is reminded, at the due time she and the Accountable (战区负责人) are told it is missed, an hour later it goes up to 总部's 运营总监; the incident shows the update overdue.
An update meets the chase and sets the next (by the cadence, or when its author says);
the resolution stops the chase and a reopening starts it again. Real NATS and PostgreSQL;
both services on one ManualClock; a local webhook receiver records who got which reason."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from tests.harness import API_KEYS, RESPONDER_KEY, RunningService, wait_until
from tests.integration.test_notifier_raci import deadline, store_network, told
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, notifier, receiver,
)

pytestmark = pytest.mark.integration


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def due_of(notifier, incident_id: str) -> datetime | None:
    found = deadline(notifier, incident_id, "progress")
    return at(found["due_at"]) if found else None


def test_a_p0_without_updates_is_chased_until_one_comes_and_resolution_stops_it(
        notifier, receiver, database_url, nats_url, clock):
    incidents = RunningService(incidents_app(IncidentsSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS), clock=clock)).start()
    try:
        store_network(notifier, receiver)
        with incidents.client(RESPONDER_KEY) as api:
            declared = api.post("/v1/incidents", json={
                "severity": "P0", "title": "全店收银瘫痪", "entity": "store-017",
                "reporter": "li.na"})
            assert declared.status_code == 201, declared.text
            iid, ref = declared.json()["id"], declared.json()["ref"]
            opened = at(declared.json()["opened_at"])
            assert at(declared.json()["progress"]["next_update_by"]) == opened + timedelta(hours=4)
            # Taken on at once by the 店长, now its one Responsible: the respond chase ends;
            # the cadence counts from the opening.
            assert api.post(f"/v1/incidents/{ref}/acknowledge",
                            json={"by": "li.na"}).status_code == 200
            chase = wait_until(lambda: deadline(notifier, iid, "progress"), WAIT,
                               "the progress chase")
            assert at(chase["due_at"]) == opened + timedelta(hours=4)

            # A next update that is not ahead is refused, naming the field.
            bad = api.post(f"/v1/incidents/{ref}/progress", json={
                "text": "x", "author": "li.na",
                "next_update_at": (opened - timedelta(minutes=1)).isoformat()})
            assert bad.status_code == 422 and "next_update_at" in bad.text \
                and "not in the future" in bad.text
            bad = api.post(f"/v1/incidents/{ref}/progress", json={
                "text": "x", "author": "li.na", "next_update_in": "2h",
                "next_update_at": (opened + timedelta(hours=1)).isoformat()})
            assert bad.status_code == 422 and "next_update_in" in bad.text

            # No update: the Responsible is reminded at 80 % of the 4 hours …
            clock.advance(timedelta(hours=3, minutes=12))
            wait_until(lambda: told(receiver, iid, "late.progress"), WAIT, "the reminder")
            assert told(receiver, iid, "late.progress") == [("late.progress.warning", "li.na")]
            reminder = next(json.loads(r["body"]) for r in receiver.received("/im", iid)
                            if json.loads(r["body"])["reason"] == "late.progress.warning")
            assert at(reminder["about"]["since"]) == opened
            assert at(reminder["about"]["due_at"]) == opened + timedelta(hours=4)
            # … at the due time she and the Accountable hear it is missed …
            clock.advance(timedelta(minutes=48))
            wait_until(lambda: len(told(receiver, iid, "late.progress")) == 3, WAIT,
                       "the missed update")
            assert told(receiver, iid, "late.progress.deadline") == [
                ("late.progress.deadline", "li.na"), ("late.progress.deadline", "zhao.lei")]
            shown = api.get(f"/v1/incidents/{ref}").json()["progress"]
            assert shown["overdue"] is True and shown["last_update_at"] is None
            listed = wait_until(lambda: next((
                i for i in api.get("/v1/incidents").json()["items"]
                if i["ref"] == ref and i["next_update_by"]), None), WAIT, "the list's row")
            assert at(listed["next_update_by"]) == opened + timedelta(hours=4)
            # … and an hour later it goes one level up.
            clock.advance(timedelta(hours=1))
            wait_until(lambda: len(told(receiver, iid, "late.progress")) == 4, WAIT,
                       "one level up")
            assert told(receiver, iid, "late.progress.up") == [
                ("late.progress.up", "wang.jianguo")]

            # The update comes: it meets the chase and sets the next, 4 hours on.
            posted = api.post(f"/v1/incidents/{ref}/progress", json={
                "text": "已联系收银系统厂商", "author": "li.na"})
            assert posted.status_code == 200, posted.text
            now = clock.now()
            progress = posted.json()["progress"]
            assert at(progress["next_update_by"]) == now + timedelta(hours=4)
            assert progress["overdue"] is False and at(progress["last_update_at"]) == now
            # (Waiting on the due time: the read model may show the last round still waiting.)
            wait_until(lambda: due_of(notifier, iid) == now + timedelta(hours=4), WAIT,
                       "the next round")
            assert deadline(notifier, iid, "progress")["status"] == "waiting"
            # Those who should know hear of it, and when the next is due.
            wait_until(lambda: told(receiver, iid, "incident.progress"), WAIT, "the update")
            update = next(json.loads(r["body"]) for r in receiver.received("/im", iid)
                          if json.loads(r["body"])["reason"] == "incident.progress")
            assert at(update["about"]["next_update_by"]) == now + timedelta(hours=4)

            # The author says the next comes within the hour: that is what is chased.
            assert api.post(f"/v1/incidents/{ref}/progress", json={
                "text": "厂商一小时内到店", "author": "li.na",
                "next_update_in": "1h"}).status_code == 200
            wait_until(lambda: due_of(notifier, iid) == now + timedelta(hours=1), WAIT,
                       "the stated time")
            assert deadline(notifier, iid, "progress")["subject"] == "2"
            clock.advance(timedelta(minutes=48))
            wait_until(lambda: len(told(receiver, iid, "late.progress.warning")) == 2, WAIT,
                       "the reminder of the stated time")

            # Resolved: updates are no longer owed and nobody is chased for them.
            assert api.post(f"/v1/incidents/{ref}/resolve", json={
                "by": "li.na", "summary": "重启了收银服务器"}).status_code == 200
            wait_until(lambda: deadline(notifier, iid, "progress")["met_why"]
                       == "resolved by li.na", WAIT, "the chase met")
            assert deadline(notifier, iid, "progress")["status"] == "met"
            assert api.get(f"/v1/incidents/{ref}").json()["progress"]["next_update_by"] is None
            wait_until(lambda: next(i for i in api.get("/v1/incidents").json()["items"]
                                    if i["ref"] == ref)["resolved_at"], WAIT, "resolved listed")
            assert next(i for i in api.get("/v1/incidents").json()["items"]
                        if i["ref"] == ref)["next_update_by"] is None
            clock.advance(timedelta(hours=6))

            # Reopened: the cadence starts again from the reopening.
            reopened = api.post(f"/v1/incidents/{ref}/reopen",
                                json={"reason": "还是卡", "by": "zhao.lei"})
            assert reopened.status_code == 200, reopened.text
            again = clock.now()
            assert at(reopened.json()["progress"]["next_update_by"]) == again + timedelta(hours=4)
            wait_until(lambda: due_of(notifier, iid) == again + timedelta(hours=4), WAIT,
                       "the chase again")
            assert deadline(notifier, iid, "progress")["status"] == "waiting"
            # Nothing was sent for the resolved stretch.
            assert len(told(receiver, iid, "late.progress")) == 5
    finally:
        incidents.stop()
