"""The whole schedule: the highest layer with someone on call wins, then overrides apply on
top (replacements and removals act on the layer's person, additions join). Pure functions of
a Plan and instants: no clock, no I/O."""
from __future__ import annotations

from datetime import datetime

from services.notifier.oncall.definition import check_instant
from services.notifier.oncall.model import Answer, OnCall, Override, OverrideKind, Plan, Shift, Source
from services.notifier.oncall.rotation import held, held_at
from services.notifier.oncall.wallclock import UTC


def layer_source(name: str) -> Source:
    return Source(kind="layer", name=name)


def override_source(override: Override) -> Source:
    return Source(kind="override", name=override.id, override=str(override.kind),
                  replaces=override.person if override.kind is OverrideKind.REPLACE else None)


def explain(plan: Plan, at: datetime) -> Answer:
    """Who is on call at `at`, which layer or override made it so, and who an override set aside."""
    check_instant(at)
    at = at.astimezone(UTC)
    base: list[OnCall] = []
    for layer in reversed(plan.layers):
        found = held_at(layer, plan.zone, at)
        if found is not None:
            base = [OnCall(found[0], layer_source(layer.name), found[1], found[2])]
            break
    active = [o for o in plan.overrides if o.start <= at < o.end]
    on_call, set_aside = apply_overrides(base, active)
    return Answer(at=at, on_call=on_call, set_aside=set_aside)


def on_call(plan: Plan, at: datetime) -> list[str]:
    """The handles on call at `at` (the highest layer's person, after overrides)."""
    return [person.handle for person in explain(plan, at).on_call]


def apply_overrides(base: list[OnCall], active: list[Override]) -> tuple[list[OnCall], list[OnCall]]:
    people, set_aside = list(base), []
    ordered = sorted(active, key=lambda o: (o.start, o.id))
    for override in ordered:
        if override.kind is OverrideKind.ADD:
            continue
        for i, person in enumerate(people):
            if person.handle != override.person:
                continue
            set_aside.append(person)
            if override.kind is OverrideKind.REPLACE:
                people[i] = OnCall(override.by, override_source(override), override.start, override.end)
            else:
                people[i] = None
        people = [p for p in people if p is not None]
    for override in ordered:
        if override.kind is OverrideKind.ADD and all(p.handle != override.person for p in people):
            people.append(OnCall(override.person, override_source(override), override.start,
                                 override.end))
    return people, set_aside


def shifts(plan: Plan, start: datetime, end: datetime) -> list[Shift]:
    """Every stretch of time someone is on call in [start, end), by whom and why: consecutive
    turns of one person from one source are one shift. Sorted by start, then handle."""
    check_instant(start, "start")
    check_instant(end, "end")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    layers = [(layer.name, held(layer, plan.zone, start, end)) for layer in plan.layers]
    overrides = [o for o in plan.overrides if o.start < end and start < o.end]
    edges = {start, end}
    for _, spans in layers:
        edges.update(t for _, since, until in spans for t in (since, until))
    edges.update(t for o in overrides for t in (o.start, o.end) if start < t < end)
    cuts = sorted(edges)
    positions = [0] * len(layers)
    open_since: dict[tuple[str, Source], datetime] = {}
    found: list[Shift] = []
    for a, b in zip(cuts, cuts[1:]):
        base = winner(layers, positions, a)
        people, _ = apply_overrides(base, [o for o in overrides if o.start <= a < o.end])
        now = {(p.handle, p.source) for p in people}
        for key in [k for k in open_since if k not in now]:
            found.append(Shift(open_since.pop(key), a, *key))
        for key in now:
            open_since.setdefault(key, a)
    found.extend(Shift(since, end, *key) for key, since in open_since.items())
    return sorted(found, key=lambda s: (s.start, s.handle, s.end))


def winner(layers: list[tuple[str, list]], positions: list[int], at: datetime) -> list[OnCall]:
    """The highest layer holding someone at `at` (positions advance through each layer's
    sorted spans, so a sweep over a range reads every span once)."""
    for i in reversed(range(len(layers))):
        name, spans = layers[i]
        while positions[i] < len(spans) and spans[positions[i]][2] <= at:
            positions[i] += 1
        if positions[i] < len(spans) and spans[positions[i]][1] <= at:
            handle, since, until = spans[positions[i]]
            return [OnCall(handle, layer_source(name), since, until)]
    return []
