"""What SOP checklists cost (in-memory store, one core). Incidents: P0 declarations per
second without a checklist file and with the seed's P0 list (one more event, 16 items), item
checks per second, and p50/p99 of reading a checklist and of rendering a communication
template. Notifier: IncidentChecklistAttached handled per second (16 checklist:<item>
deadlines set each) and checks met per second.

Run: .venv/bin/python -m tests.bench.bench_checklists [incidents]"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

from services.incidents.app import IncidentsApplication
from services.incidents.checklist_templates import load_checklists
from services.incidents.domain import Severity
from services.notifier.app import NotifierApplication
from services.notifier.channels import EgressPolicy
from services.notifier.sealing import Sealer
from shared.clock import ManualClock
from shared.contracts import IncidentChecklistAttached, IncidentChecklistItemChecked
from tests.bench.infra import percentile
from tests.unit.test_notifier_domain import CAUSE, T0
from tests.unit.test_raci import _with_tracking, open_p0, store_network

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "checklists" / "p0.yaml"
MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def declarations(checklists: bool, n: int) -> tuple[float, IncidentsApplication, list[str]]:
    app = IncidentsApplication(MEMORY, ManualClock(T0),
                               checklists=load_checklists(EXAMPLE) if checklists else None)
    started, refs = time.perf_counter(), []
    for i in range(n):
        refs.append(app.declare(Severity.P0, f"收银台卡顿 {i}", "store-017", "三号收银台",
                                "li.na", CAUSE)["ref"])
    return n / (time.perf_counter() - started), app, refs


def timed(call, n: int) -> tuple[float, float]:
    spent = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1e6)
    return percentile(spent, 50), percentile(spent, 99)


def notifier(n: int) -> tuple[float, float]:
    app = NotifierApplication(MEMORY, ManualClock(T0),
                              sealer=Sealer(Fernet.generate_key().decode()),
                              egress=EgressPolicy())
    store_network(app)
    template = load_checklists(EXAMPLE).template_for("P0")
    seq = 0
    for i in range(n):
        seq += 1
        open_p0(app, f"inc-{i}", seq)
    started = time.perf_counter()
    for i in range(n):
        seq += 1
        app.handle_incident_checklist_attached(*_with_tracking(IncidentChecklistAttached(
            incident_id=f"inc-{i}", ref="P0-2026-11-017", template="P0 SOP", severity="P0",
            opened_at=T0, at=T0, items=[{"item": it.id, "title": it.title["zh"],
                                         "due_at": T0 + it.within} for it in template.items]),
            seq))
    attached = n / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(n):
        seq += 1
        app.handle_incident_checklist_item_checked(*_with_tracking(IncidentChecklistItemChecked(
            incident_id=f"inc-{i}", ref="P0-2026-11-017", item="store_manager_called",
            by="li.na", due_at=T0, late=False, at=T0), seq))
    return attached, n / (time.perf_counter() - started)


def main(n: int) -> None:
    plain, _, _ = declarations(False, n)
    listed, app, refs = declarations(True, n)
    started = time.perf_counter()
    for ref in refs:
        app.check_checklist_item(ref, "store_manager_called", "li.na", "已致电", False, CAUSE)
    checks = n / (time.perf_counter() - started)
    read = timed(lambda: app.checklist(refs[0]), 500)
    rendered = timed(lambda: app.checklist_message(refs[0], "region_lead", "zh", "zhou.min"),
                     500)
    attached, met = notifier(n)
    print(f"incidents, {n} P0 declarations (in-memory, one core)")
    print(f"  declared/s without checklists  {plain:8.0f}")
    print(f"  declared/s with the P0 list    {listed:8.0f}   ({(1 - listed / plain) * 100:.0f}% "
          "slower)")
    print(f"  items checked/s                {checks:8.0f}")
    print(f"  GET checklist      p50 {read[0]:7.0f} µs   p99 {read[1]:7.0f} µs")
    print(f"  render 话术 (zh)    p50 {rendered[0]:7.0f} µs   p99 {rendered[1]:7.0f} µs")
    print("notifier")
    print(f"  checklists attached/s (16 deadlines each)  {attached:8.0f}")
    print(f"  checks met/s                               {met:8.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
