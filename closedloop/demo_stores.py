"""`closedloop demo --story stores`: the store network of examples/org/store-network.yaml has
a P0 red alert on 深圳宝安店 (its cold chain is too warm), and the demo shows who was told,
when and why: the 店长, the 战区运营 and 总部 at once, the RACI people (R and A paged, I
informed), the late response chased, and after 15 silent minutes the 战区负责人, the ladder's
next step; then the message each of them read. Two minor (P3) alerts page nobody and reach
their people in the next morning's daily report (demo_digest.py). Nobody waits for those
minutes and hours: the stack's clocks are moved forward (CLOSEDLOOP_CLOCK_ADJUSTABLE,
POST /v1/clock/advance on each service)."""
from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from closedloop.demo import DEMO_PORT, DEMO_SECRET, Demo, wait_for
from closedloop.demo_digest import DailyReport
from closedloop.demo_messages import message_of, print_messages, print_reports
from closedloop.stack import StackInfo

ORG_FILE = Path(__file__).resolve().parent.parent / "examples" / "org" / "store-network.yaml"
STORE, STORE_NAME = "store-017", "深圳宝安店"
STEP_SECONDS = 900  # the ladder waits 15 minutes for an acknowledgement
# The clock moves in the steps at which something is due, so each message is stamped with the
# minute it was due: P0 answers are due in 5 minutes (warned at 80%), the next step at 15.
ADVANCES = ((240, "late.respond.warning"), (60, "late.respond.deadline"),
            (600, "escalation.step1"))
CHANNELS = (("store-ops", "/store-ops"), ("regional-manager", "/regional-manager"),
            ("hq-room", "/hq"))
SETTLED = {"delivered", "failed", "skipped"}


class ClockNotAdjustable(RuntimeError):
    pass


class StoresDemo(DailyReport, Demo):
    def __init__(self, info: StackInfo, say: Callable[[str], None] = print) -> None:
        super().__init__(info, say)
        self.suffix = "" if self.receiver.port == DEMO_PORT else f" {self.run_id}"
        self.paused: list[str] = []
        self.moved = 0  # seconds the clocks were moved
        self.step = 0  # the narration's last number
        self._names: dict[str, str] | None = None

    def tell(self, line: str) -> None:
        self.step += 1
        self.say(f"{self.step}. {line}")

    # -- the stage --------------------------------------------------------------------------
    def check_clocks(self) -> None:
        for service in self.http:
            if self.http[service].get("/v1/clock").status_code == 404:
                raise ClockNotAdjustable(
                    f"{service}'s clock cannot be moved: start the stack with "
                    "CLOSEDLOOP_CLOCK_ADJUSTABLE=1 (`closedloop demo --story stores` does when "
                    "it starts one)")

    def setup(self) -> None:
        channels = {c["name"]: c["id"] for c in self.call("notifier", "GET", "/v1/channels",
                                                          params={"limit": 500})["items"]}
        self.channels = {}
        for name, path in CHANNELS:
            full = f"demo {name}{self.suffix}"
            self.channels[name] = channels.get(full) or self.call(
                "notifier", "POST", "/v1/channels", json={
                    "name": full, "kind": "webhook", "url": self.receiver.url(path),
                    "secret": DEMO_SECRET})["id"]
        self.apply_directory()
        self.policy = f"demo store-red{self.suffix}"
        self.pause_other_demo_policies()
        if self.policy not in self.policies():
            self.call("notifier", "POST", "/v1/policies", json={
                "name": self.policy, "severities": ["P0"], "steps": [
                    {"targets": [{"kind": "role", "ref": "店长"}, {"kind": "role", "ref": "战区运营"},
                                 {"kind": "channel", "ref": self.channels["hq-room"]}],
                     "delay_seconds": STEP_SECONDS},
                    {"targets": [{"kind": "role", "ref": "战区负责人"}],
                     "delay_seconds": STEP_SECONDS}]})
        self.define_digest_policy()

    def apply_directory(self) -> None:
        """The shipped organisation file, as `closedloop directory apply --yes` applies it;
        people's contacts name this run's channels."""
        from closedloop.directory import execute, load, plan_changes

        wanted = load(ORG_FILE)
        for person in wanted["people"]:
            for contact in person["contacts"]:
                if (contact.get("channel") or "").startswith("demo "):
                    contact["channel"] += self.suffix
        current = {**self.call("notifier", "GET", "/v1/directory"),
                   "raci": self.call("notifier", "GET", "/v1/raci")}
        execute(self.http["notifier"], plan_changes(wanted, current))

    def policies(self) -> dict[str, dict]:
        return {p["name"]: p for p in self.call("notifier", "GET", "/v1/policies",
                                                params={"limit": 500})["items"]}

    def pause_other_demo_policies(self) -> None:
        """Another demo's P0 policy would merge into this ladder (its 2-second step too): it
        is disabled while the story plays, and enabled again after."""
        for name, policy in self.policies().items():
            if (name.startswith("demo ") and name != self.policy and policy["enabled"]
                    and "P0" in policy["severities"]):
                self.call("notifier", "PATCH", f"/v1/policies/{policy['id']}", json={
                    "enabled": False, "disabled_reason": "the stores demo is playing"})
                self.paused.append(policy["id"])

    def resume_other_demo_policies(self) -> None:
        for policy_id in self.paused:
            self.call("notifier", "PATCH", f"/v1/policies/{policy_id}", json={"enabled": True})
        self.paused.clear()

    # -- the story --------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        self.check_clocks()
        try:
            self.setup()
            self.tell(f"the store network is applied from {ORG_FILE.name}; a P0 policy tells "
                      "the 店长, the 战区运营 and 总部, then after 15 minutes the 战区负责人; "
                      f"P3s go to the daily report ({self.digest_policy})")
            answer = self.call("notifier", "GET", f"/v1/units/{STORE}/on-call")
            self.tell(f"on call for {STORE_NAME} now: " + ", ".join(
                f"{p['name']} ({', '.join(r['via'] for r in p['reasons'])})"
                for p in answer["on_call"]))
            incident = self.raise_alert()
            self.tell(f"red alert on {STORE_NAME} → incident {incident['ref']} opened "
                      f"({incident['severity']})")
            self.wait_for_reason(incident, "incident.opened", settle=True)
            self.tell("told at once: the ladder's first step and the RACI people")
            minor = self.raise_minor_alerts()
            self.tell("minor alerts (P3): nobody paged, noted for the 09:00 daily report: "
                      + "; ".join(f"{i['ref']} {i['title']}" + (
                          f" (resolved by {i['fixed_by']})" if i["fixed_by"] else "")
                          for i in minor))
            for seconds, reason in ADVANCES:
                self.advance(seconds)
                self.wait_for_reason(incident, reason)
                self.tell(f"+{self.moved // 60} silent minutes (every clock moved "
                          f"{seconds}s): {reason}")
            rows = self.table_rows(incident)
        finally:
            self.resume_other_demo_policies()
        self.incident = incident
        return rows

    def raise_alert(self) -> dict[str, Any]:
        """As Alertmanager would send it; a fingerprint of this run's own, so an earlier
        run's open incident is not the one this alert lands on."""
        fingerprint = f"demo-stores-{uuid.uuid4().hex[:16]}"
        self.call("detector", "POST", "/v1/ingest/alertmanager", json=[{
            "labels": {"alertname": "ColdChainTooWarm", "severity": "critical", "store": STORE,
                       "region": "south"},
            "annotations": {"summary": f"{STORE_NAME}: 冷柜温度 12°C，超过 8°C 上限 20 分钟"},
            "fingerprint": fingerprint}])
        return wait_for("the P0 incident", lambda: next(
            (i for i in self.call("incidents", "GET", "/v1/incidents",
                                  params={"severity": "P0", "limit": 500})["items"]
             if i["fingerprint"] == fingerprint), None))

    def advance(self, seconds: int) -> None:
        for service in self.http:  # every service: their timers must agree on the time
            self.call(service, "POST", "/v1/clock/advance", json={"seconds": seconds})
        self.moved += seconds

    def deliveries(self, incident: dict[str, Any]) -> list[dict[str, Any]]:
        return self.call("notifier", "GET", "/v1/deliveries",
                         params={"incident_id": incident["id"], "limit": 1000})["items"]

    def wait_for_reason(self, incident: dict[str, Any], reason: str, settle: bool = False) -> None:
        wait_for(f"messages for {reason}", lambda: any(
            d["reason"] == reason for d in self.deliveries(incident)))
        if settle:  # sent (or given up) before the clocks move, so retries do not cloud it
            wait_for("the messages to be sent", lambda: all(
                d["status"] in SETTLED for d in self.deliveries(incident)
                if d["reason"] == reason))

    # -- the table --------------------------------------------------------------------------
    def table_rows(self, incident: dict[str, Any]) -> list[dict[str, Any]]:
        """Every message of the incident: when it was made (the delivery's own time, from the
        incident's opening), for whom, their roles and RACI letters, and why."""
        opened = _instant(incident["opened_at"])
        staffing = self.call("notifier", "GET", f"/v1/staffings/{incident['id']}")
        letters = {h: [letter for letter, key in (("R", "responsible"), ("A", "accountable"),
                                                  ("C", "consulted"), ("I", "informed"))
                       if h in staffing[key]]
                   for h in {h for key in ("responsible", "accountable", "consulted", "informed")
                             for h in staffing[key]}}
        roles = self.roles_around(STORE)
        names = self.names()
        hq_room = f"demo hq-room{self.suffix}"
        rows = []
        for d in wait_for("every message sent", lambda: (lambda found: found if all(
                x["status"] in SETTLED for x in found) else None)(self.deliveries(incident))):
            handle = d["person"]
            at = _instant(d["created_at"])
            rows.append({
                "delivery_id": d["id"], "at": at, "after_seconds": (at - opened).total_seconds(),
                "handle": handle,
                "who": f"{names.get(handle, handle)} ({handle})" if handle
                else ("总部 (" + hq_room + ")" if d["channel_name"] == hq_room
                      else d["channel_name"]),
                "roles": roles.get(handle, []) if handle else [],
                "raci": letters.get(handle, []) if handle else [],
                "reason": d["reason"], "target": d["target"], "status": d["status"],
                "why": why(d["reason"], d["target"] or "")})
        return sorted(rows, key=lambda r: (r["at"], r["who"]))

    def names(self) -> dict[str, str]:
        if self._names is None:
            self._names = {p["handle"]: p["name"] for p in self.call(
                "notifier", "GET", "/v1/directory")["people"]}
        return self._names

    def messages(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What each row's reader got, in the table's order."""
        return [{**row, "message": message_of(self.call, row["delivery_id"])} for row in rows]

    def roles_around(self, key: str) -> dict[str, list[str]]:
        """handle → "role@unit" for the unit and every unit above it."""
        units = {u["key"]: u for u in self.call("notifier", "GET", "/v1/directory")["units"]}
        found: dict[str, list[str]] = {}
        while key in units:
            for role, holders in units[key]["roles"].items():
                for handle in holders:
                    found.setdefault(handle, []).append(f"{role}@{units[key]['name']}")
            key = units[key]["parent"]
        return found


LETTERS = {"responsible": "R", "accountable": "A", "consulted": "C", "informed": "I"}


def why(reason: str, target: str) -> str:
    kind, _, ref = target.partition(":")
    chosen = (f"RACI {LETTERS.get(ref, ref)} ({ref})" if kind == "raci"
              else f"role {ref}" if kind == "role" else kind)
    if reason == "incident.opened":
        return f"opened: ladder step 0, {chosen}" if kind != "raci" else f"opened: {chosen}"
    if reason.startswith("escalation.step"):
        return f"nobody acknowledged: ladder step {reason.removeprefix('escalation.step')}, {chosen}"
    if reason.startswith("late."):
        _, deadline, phase = reason.split(".", 2)
        return f"{deadline} {phase}: {chosen}"
    return f"{reason}: {chosen}"


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def pad(text: str, width: int) -> str:
    """Left-aligned to `width` terminal columns: CJK characters take two."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - used, 0)


def print_table(rows: list[dict[str, Any]], incident: dict[str, Any],
                say: Callable[[str], None] = print) -> None:
    say(f"Who was told about {incident['ref']} — {incident['title']} ({incident['severity']})")
    say(f"{pad('UTC', 9)} {'+min':>5}  {pad('who', 26)} {pad('roles', 22)} {pad('RACI', 5)} "
        f"{pad('status', 10)} why")
    say("-" * 120)
    for r in rows:
        minutes, seconds = divmod(int(r["after_seconds"]), 60)
        say(f"{pad(r['at'].strftime('%H:%M:%S'), 9)} {minutes:>2}:{seconds:02d}  "
            f"{pad(r['who'], 26)} {pad(', '.join(r['roles']), 22)} "
            f"{pad(''.join(r['raci']) or '-', 5)} {pad(r['status'], 10)} {r['why']}")


def run_stores_demo(info: StackInfo) -> int:
    demo = StoresDemo(info)
    try:
        rows = demo.run()
        print_table(rows, demo.incident)
        print_messages(demo.messages(rows))
        print_reports(demo.daily_report())
        return 0
    except ClockNotAdjustable as why_not:
        print(why_not)
        return 1
    finally:
        demo.close()
