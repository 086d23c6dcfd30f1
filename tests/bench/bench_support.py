"""What support tiers cost the notifier's opening path (in-memory store, one core): openings
per second without a desk, with a desk whose type matches nothing (not routed: one more
read), and routed to an L1 team (a ticket, a time box and the team's message), then the
escalation of a time box that ran out (the next tier entered) per second.

Run: .venv/bin/python -m tests.bench.bench_support [openings]"""
from __future__ import annotations

import sys
import time
from datetime import timedelta

from tests.unit.test_notifier_support import DESK, opened
from tests.unit.test_raci import _with_tracking, store_network
from tests.unit.test_notifier_domain import CAUSE, T0
from services.notifier.app import NotifierApplication
from services.notifier.channels import EgressPolicy
from services.notifier.raci.deadline import deadline_id
from services.notifier.sealing import Sealer
from shared.clock import ManualClock
from cryptography.fernet import Fernet


def app(desk: bool) -> NotifierApplication:
    found = NotifierApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"}, ManualClock(T0),
                                sealer=Sealer(Fernet.generate_key().decode()),
                                egress=EgressPolicy())
    store_network(found)
    for name, members in (("一线", ["li.na"]), ("二线", ["zhou.min"]), ("研发", ["zhao.lei"])):
        found.form_team(definition={"name": name, "members": members}, actor="b", cause=CAUSE)
    if desk:
        found.define_support(DESK, "b", CAUSE)
    return found


def openings(found: NotifierApplication, n: int, kind: str | None, prefix: str) -> float:
    started = time.perf_counter()
    for i in range(n):
        found.handle_incident_opened(*_with_tracking(opened(f"{prefix}-{i}", kind), i + 1))
    return n / (time.perf_counter() - started)


def main(n: int) -> None:
    print(f"openings per second ({n} each, in-memory store):")
    print(f"  no desk                  {openings(app(False), n, 'pos_payment', 'a'):8.0f}")
    print(f"  desk, type not routed    {openings(app(True), n, '舆情', 'b'):8.0f}")
    routed = app(True)
    print(f"  routed to L1             {openings(routed, n, 'pos_payment', 'c'):8.0f}")
    routed.clock.advance(timedelta(seconds=1801))
    now = routed.clock.now()
    for i in range(n):  # the 80 % warnings first, so the timing below is the escalation alone
        routed.chase(deadline_id(f"c-{i}", "tier:0"), now)
    started = time.perf_counter()
    for i in range(n):
        routed.chase(deadline_id(f"c-{i}", "tier:0"), now)
    print(f"  time box ran out → L2    {n / (time.perf_counter() - started):8.0f} /s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
