""""Who is on call" lookups per second on one core, for a realistic schedule: three layers
(a weekly primary, a daily business-hours layer restricted to Mon–Fri 09:00–18:00, a 12-hour
follow-the-sun layer restricted to weekends) in Europe/Berlin, with 50 overrides over a year.
Lookups are at random instants over that year (both clock changes inside); also the answer
with its explanation, a 90-day shift listing (what a calendar feed computes), a lookup
through the notifier application reading the schedule from its (in-memory) store, and the
team and unit answers (GET /v1/teams/{name}/on-call, /v1/units/{key}/on-call) through it: a
team on that schedule, a region unit whose role holders are in the team and a store under it.

Run: .venv/bin/python -m tests.bench.bench_oncall [lookups]"""
from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta, timezone

from cryptography.fernet import Fernet

from services.notifier.app import NotifierApplication
from services.notifier.channels import EgressPolicy
from services.notifier.oncall import explain, on_call, plan, shifts
from services.notifier.oncall.answers import team_on_call, unit_on_call
from services.notifier.oncall.wallclock import instant
from services.notifier.sealing import Sealer
from shared.clock import ManualClock

UTC = timezone.utc
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
PEOPLE = [f"person.{i:02d}" for i in range(24)]


def definition() -> dict:
    return {"name": "store-network", "time_zone": "Europe/Berlin", "layers": [
        {"name": "primary", "rotation": "weekly", "handoff_weekday": "mon", "handoff_time": "09:00",
         "start": "2025-12-01T09:00", "members": PEOPLE[:8]},
        {"name": "office", "rotation": "daily", "handoff_time": "09:00", "start": "2025-12-01T09:00",
         "members": PEOPLE[8:14],
         "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}]},
        {"name": "weekend", "rotation": "custom", "shift_hours": 12, "handoff_time": "08:00",
         "start": "2025-12-01T08:00", "members": PEOPLE[14:20],
         "restrictions": [{"start_day": "sat", "start": "08:00", "end_day": "mon", "end": "08:00"}]},
    ]}


def overrides(rng: random.Random) -> list[dict]:
    made, kinds = [], ["add", "remove", "replace"]
    for i in range(50):
        start = YEAR_START + timedelta(days=7 * i + rng.randrange(7), hours=rng.randrange(24))
        kind = kinds[i % 3]
        made.append({"id": f"o{i}", "kind": kind, "person": PEOPLE[i % 20],
                     "by": PEOPLE[20 + i % 4] if kind == "replace" else None,
                     "start": start.isoformat(), "end": (start + timedelta(hours=rng.randrange(4, 72))).isoformat()})
    return made


def rate(label: str, count: int, run) -> float:
    began = time.perf_counter()
    run()
    elapsed = time.perf_counter() - began
    print(f"  {label:<58} {count / elapsed:>10,.0f} /s  ({elapsed * 1e6 / count:,.1f} µs each)")
    return count / elapsed


def main(lookups: int = 100_000) -> None:
    rng = random.Random(42)
    p = plan(definition(), overrides(rng))
    year = int(timedelta(days=365).total_seconds())
    instants = [YEAR_START + timedelta(seconds=rng.randrange(year)) for _ in range(lookups)]
    print(f"schedule: {len(p.layers)} layers, {len(p.overrides)} overrides, zone {p.zone.key}; "
          f"{lookups:,} lookups at random instants of 2026")

    instant.cache_clear()
    rate("on_call, cold cache of local-time conversions", lookups,
         lambda: [on_call(p, at) for at in instants])
    rate("on_call, warm", lookups, lambda: [on_call(p, at) for at in instants])
    rate("explain (who, which layer or override, since/until)", lookups,
         lambda: [explain(p, at) for at in instants])
    windows = 200
    rate("shifts over 90 days (a calendar feed's computation)", windows,
         lambda: [shifts(p, at, at + timedelta(days=90)) for at in instants[:windows]])
    found = shifts(p, YEAR_START, YEAR_START + timedelta(days=90))
    print(f"  (90 days hold {len(found)} shifts)")

    app = NotifierApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"}, ManualClock(YEAR_START),
                              sealer=Sealer(Fernet.generate_key().decode()), egress=EgressPolicy())
    app.define_schedule(definition(), actor="bench", cause={})
    for override in overrides(random.Random(42)):
        app.add_override("store-network", {k: v for k, v in override.items() if k != "id"},
                         actor="bench", cause={})
    through_app = min(lookups, 5_000)
    rate("who_is_on_call through the application (in-memory store)", through_app,
         lambda: [app.who_is_on_call("store-network", at) for at in instants[:through_app]])
    organisation(app)
    rate("team on call (schedule + organisation), lookups", through_app,
         lambda: [team_on_call(app, "network-ops", at) for at in instants[:through_app]])
    rate("unit on call (role holders + attached team), lookups", through_app,
         lambda: [unit_on_call(app, "south", at) for at in instants[:through_app]])
    rate("unit on call, a store (role holders only), lookups", through_app,
         lambda: [unit_on_call(app, "store-017", at) for at in instants[:through_app]])


def organisation(app: NotifierApplication) -> None:
    """Everyone of the schedule as a person, a team on it, 总部 → 华南战区 → 深圳宝安店."""
    for handle in PEOPLE:
        app.add_person(definition={"handle": handle, "name": handle, "time_zone": "Europe/Berlin"},
                       actor="bench", cause={})
    app.form_team(definition={"name": "network-ops", "members": PEOPLE[:20],
                              "schedule": "store-network"}, actor="bench", cause={})
    for unit in ({"key": "hq", "name": "总部", "roles": {"运营总监": [PEOPLE[20]]}},
                 {"key": "south", "name": "华南战区", "parent": "hq",
                  "roles": {"战区负责人": [PEOPLE[21]], "战区运营": [PEOPLE[0], PEOPLE[8]]}},
                 {"key": "store-017", "name": "深圳宝安店", "parent": "south",
                  "roles": {"店长": [PEOPLE[22]]}, "entities": ["store-017"]}):
        app.define_unit(definition=unit, actor="bench", cause={})


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
