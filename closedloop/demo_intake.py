"""`closedloop demo --story intake`: a customer phones 深圳宝安店's hotline; the desk types what
she says and the incidents service proposes a problem type and a severity, with its reasons.
The desk declares the incident as proposed, then corrects type and severity once the store
manager has the facts (a label the classifier learns from). The SLA clock stops while the desk waits for the customer's
receipt and starts again when she sends it: the deadlines move by exactly the wait. The desk
resolves it, and as a minor incident it closes by hand with a note, no CAPA case needed.
The hours are the services' clocks moved forward (CLOSEDLOOP_CLOCK_ADJUSTABLE), never slept."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from closedloop.demo import Demo
from closedloop.demo_story import print_timeline
from closedloop.demo_stores import ClockNotAdjustable
from closedloop.stack import StackInfo

STORE = "store-017"
CALL = {"title": "顾客来电投诉宝安店结账",
        "description": "顾客来电投诉：在宝安店结账排队二十分钟，要求退款并道歉"}
WAIT_FOR_RECEIPT_SECONDS = 2 * 3600


class IntakeDemo(Demo):
    def __init__(self, info: StackInfo, say: Callable[[str], None] = print) -> None:
        super().__init__(info, say)
        self.step = 0

    def tell(self, line: str) -> None:
        self.step += 1
        self.say(f"{self.step}. {line}")

    def check_clocks(self) -> None:
        if self.http["incidents"].get("/v1/clock").status_code == 404:
            raise ClockNotAdjustable(
                "the incidents service's clock cannot be moved: start the stack with "
                "CLOSEDLOOP_CLOCK_ADJUSTABLE=1 (`closedloop demo --story intake` does when it "
                "starts one)")

    def advance(self, seconds: int) -> None:
        for service in self.http:  # every service: their timers must agree on the time
            self.call(service, "POST", "/v1/clock/advance", json={"seconds": seconds})

    def incidents(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call("incidents", method, path, **kwargs)

    def run(self) -> dict[str, Any]:
        self.check_clocks()
        proposal = self.incidents("POST", "/v1/intake/proposals", json=CALL)
        self.tell(f"the hotline types the call: 「{CALL['description']}」")
        self.tell(f"proposed: {proposal['problem_type']} ({proposal['method']}, confidence "
                  f"{proposal['confidence']:.2f}: {'; '.join(proposal['reasons'])}), "
                  f"severity {proposal['severity']} ({'; '.join(proposal['severity_reasons'])})")
        incident = self.incidents("POST", "/v1/incidents", json={
            **CALL, "entity": STORE, "reporter": "hotline", "source": "phone"})
        ref = incident["ref"]
        self.tell(f"declared as proposed: {ref}, {incident['intake']['problem_type']}, "
                  f"respond by {_hm(incident['respond_by'])}, resolve by "
                  f"{_hm(incident['resolve_by'])}")
        corrected = self.incidents("POST", f"/v1/incidents/{ref}/classification", json={
            "problem_type": "service_attitude", "severity": "P3",
            "reason": "店长核实：收银员不理人，顾客不要退款，只要道歉", "by": "li.na"})
        self.tell(f"the store manager calls back: it was the cashier's attitude; li.na "
                  f"corrects it to {corrected['intake']['problem_type']} "
                  f"{corrected['severity']} (a label the classifier learns from), resolve by "
                  f"{_hm(corrected['resolve_by'])}")
        self.incidents("POST", f"/v1/incidents/{ref}/acknowledge", json={"by": "li.na"})
        self.incidents("POST", f"/v1/incidents/{ref}/await-requester", json={
            "reason": "请顾客提供购物小票", "by": "li.na"})
        self.advance(WAIT_FOR_RECEIPT_SECONDS)
        answered = self.incidents("POST", f"/v1/incidents/{ref}/requester-answered",
                                  json={"by": "li.na"})
        self.tell(f"the SLA clock stopped for {WAIT_FOR_RECEIPT_SECONDS // 3600} h while li.na "
                  f"waited for the receipt: resolve by {_hm(corrected['resolve_by'])} → "
                  f"{_hm(answered['resolve_by'])}")
        self.incidents("POST", f"/v1/incidents/{ref}/resolve", json={
            "by": "li.na", "summary": "店长当面致歉，收银员重新培训"})
        closing = self.incidents("GET", f"/v1/incidents/{ref}")["closing"]
        self.tell(f"resolved; its closing path is {closing['path']}: a note closes it, no CAPA "
                  "case needed")
        closed = self.incidents("POST", f"/v1/incidents/{ref}/close", json={
            "by": "li.na", "note": "顾客接受道歉，回访满意"})
        self.tell(f"{ref} is {closed['status']}")
        return closed


def _hm(at: str) -> str:
    return datetime.fromisoformat(at).strftime("%m-%d %H:%M")


def run_intake_demo(info: StackInfo) -> int:
    demo = IntakeDemo(info)
    try:
        closed = demo.run()
        demo.say("")
        print_timeline(closed)
    except ClockNotAdjustable as refused:
        print(refused)
        return 1
    finally:
        demo.close()
    return 0
