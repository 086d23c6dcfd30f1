"""The intake story through the four running services over real HTTP, NATS and PostgreSQL,
their clocks adjustable: a customer's call is classified as proposed, declared, corrected,
paused while the desk waits for her receipt (the deadline moves by exactly the wait),
resolved and closed by hand with a note."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from closedloop.demo_story import print_timeline
from closedloop.demo_intake import WAIT_FOR_RECEIPT_SECONDS, IntakeDemo
from tests.e2e.test_stores_demo import stack  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e


def test_a_customers_call_is_classified_paused_for_her_receipt_and_closed_by_hand(
        stack, capsys):  # noqa: F811 (fixture)
    demo = IntakeDemo(stack)
    try:
        closed = demo.run()
        incident = demo.incidents("GET", f"/v1/incidents/{closed['ref']}")
    finally:
        demo.close()
    assert closed["status"] == "closed"
    assert incident["intake"]["source"] == "phone"
    assert incident["intake"]["problem_type"] == "service_attitude"
    assert incident["intake"]["labelled"] is True
    assert incident["closing"]["path"] == "optional"
    assert incident["closing"]["closed_by"] == "li.na"
    actions = [entry["action"] for entry in incident["timeline"]]
    assert "reclassified" in actions and actions[-1].startswith("closed"), actions

    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0].startswith("1. the hotline types the call: 「顾客来电投诉"), lines
    assert "2. proposed: complaint" in printed
    assert "corrects it to service_attitude P3" in printed
    paused = next(line for line in lines if "the SLA clock stopped for 2 h" in line)
    before, after = (datetime.strptime(t.strip(), "%m-%d %H:%M")
                     for t in paused.split("resolve by ")[1].split("→"))
    assert after - before == timedelta(seconds=WAIT_FOR_RECEIPT_SECONDS)
    assert "its closing path is optional" in printed
    assert lines[-1] == f"{demo.step}. {closed['ref']} is closed"

    print_timeline(incident)
    assert f"Timeline of {closed['ref']}" in capsys.readouterr().out
