"""What SOP checklists cost, in CPU time per call (median of 5 rounds; in-memory store, so
what is measured is the code, not the disk). Incidents: declaring a P0 without a checklist
file and with the seed's P0 list (one more event, 16 items), checking an item, reading a
checklist, rendering a communication template. Notifier: handling IncidentChecklistAttached
(16 checklist:<item> deadlines set) and IncidentChecklistItemChecked (one met).

Run: .venv/bin/python -m tests.bench.bench_checklists [calls per round]"""
from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
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
from tests.bench.infra import per_op
from tests.unit.test_notifier_domain import CAUSE, T0
from tests.unit.test_raci import _with_tracking, open_p0, store_network

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "checklists" / "p0.yaml"
MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
ITEMS = [i.id for i in load_checklists(EXAMPLE).template_for("P0").items]


def incidents(checklists: bool) -> tuple[IncidentsApplication, list[str], Callable]:
    """The application, the refs it declared, and a run of n declarations."""
    app = IncidentsApplication(MEMORY, ManualClock(T0),
                               checklists=load_checklists(EXAMPLE) if checklists else None)
    refs: list[str] = []

    def declare(n: int) -> None:
        for _ in range(n):
            refs.append(app.declare(Severity.P0, f"收银台卡顿 {len(refs)}", "store-017",
                                    "三号收银台", "li.na", CAUSE)["ref"])

    return app, refs, declare


def main(n: int) -> None:
    _, _, plain = incidents(False)
    app, refs, listed = incidents(True)
    without, with_list = per_op(plain, n), per_op(listed, n)
    pending = itertools.product(refs, ITEMS[:3])  # 5 rounds of n checks, on many incidents

    def check(k: int) -> None:
        for ref, item in itertools.islice(pending, k):
            app.check_checklist_item(ref, item, "li.na", "已致电", False, CAUSE)

    checks = per_op(check, n)
    read = per_op(lambda k: [app.checklist(refs[0]) for _ in range(k)], n)
    render = per_op(lambda k: [app.checklist_message(refs[0], "region_lead", "zh", "zhou.min")
                               for _ in range(k)], n)
    attach, meet = notifier(n)
    print("SOP checklists, CPU time per call (median of 5 rounds, in-memory store)")
    print(f"  declare a P0 without checklists   {without:8.0f} µs")
    print(f"  declare a P0 with the P0 list     {with_list:8.0f} µs   (+{with_list - without:.0f})")
    print(f"  check an item                     {checks:8.0f} µs")
    print(f"  read a checklist                  {read:8.0f} µs")
    print(f"  render a 话术 (zh)                 {render:8.0f} µs")
    print(f"  notifier: attach (16 deadlines)   {attach:8.0f} µs")
    print(f"  notifier: a check met             {meet:8.0f} µs")


def notifier(n: int) -> tuple[float, float]:
    app = NotifierApplication(MEMORY, ManualClock(T0),
                              sealer=Sealer(Fernet.generate_key().decode()),
                              egress=EgressPolicy())
    store_network(app)
    template = load_checklists(EXAMPLE).template_for("P0")
    seq, opened = itertools.count(1), itertools.count()
    ids: list[str] = []

    def attach(k: int) -> None:
        for _ in range(k):
            incident_id = f"inc-{next(opened)}"
            open_p0(app, incident_id, next(seq))
            ids.append(incident_id)
            app.handle_incident_checklist_attached(*_with_tracking(IncidentChecklistAttached(
                incident_id=incident_id, ref="P0-2026-11-017", template="P0 SOP",
                severity="P0", opened_at=T0, at=T0,
                items=[{"item": it.id, "title": it.title["zh"], "due_at": T0 + it.within}
                       for it in template.items]), next(seq)))

    def open_only(k: int) -> None:
        for _ in range(k):
            open_p0(app, f"inc-{next(opened)}", next(seq))

    attached = per_op(attach, n) - per_op(open_only, n)  # the checklist's share
    checked = iter(ids)

    def meet(k: int) -> None:
        for incident_id in itertools.islice(checked, k):
            app.handle_incident_checklist_item_checked(*_with_tracking(
                IncidentChecklistItemChecked(incident_id=incident_id, ref="P0-2026-11-017",
                                             item="store_manager_called", by="li.na",
                                             due_at=T0, late=False, at=T0), next(seq)))

    return attached, per_op(meet, n)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
