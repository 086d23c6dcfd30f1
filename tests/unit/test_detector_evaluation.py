"""Property: whatever a series does and however its samples are batched, the detector raises
exactly once per crossing into the firing state and resolves once per crossing back; applying
the engine's transitions to alerts twice stores nothing new."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.detector.app import DetectorApplication
from services.detector.domain import Alert, rule_fingerprint
from services.detector.rules import Engine, RuleSpec

START = 1_793_577_600.0  # 2026-11-02T00:00Z
NPS_LOW = RuleSpec.model_validate({"name": "NPS low", "metric": "store.nps", "severity": "P1",
                                   "when": {"value": {}, "below": 50}})


def in_memory_detector() -> DetectorApplication:
    return DetectorApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def run(app: DetectorApplication, engine: Engine, values: list[float], minute: int) -> None:
    samples = [("store.nps", "store-042", {}, START + 60 * (minute + i), v)
               for i, v in enumerate(values)]
    transitions = engine.evaluate_samples(samples).transitions
    app.apply_transitions(transitions, actor="test", cause={})
    app.apply_transitions(transitions, actor="test", cause={})  # a rebuild repeating itself


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.lists(st.floats(0, 100), min_size=1, max_size=8), min_size=1, max_size=6))
def test_raises_and_resolves_alternate_with_the_crossings(batches):
    app, engine = in_memory_detector(), Engine()
    engine.set_rule("rule-1", NPS_LOW)
    minute, values = 0, []
    for batch in batches:
        run(app, engine, batch, minute)
        minute += len(batch)
        values += batch

    expected, firing = [], False
    for value in values:
        if (value < 50) != firing:
            firing = not firing
            expected.append("Raised" if firing else "Resolved")
    alert = app.get_or_none(Alert.create_id(rule_fingerprint("rule-1", "store-042")))
    stored = [type(e).__name__ for e in app.stored_events(alert.id)][1:] if alert else []
    assert stored == expected


def test_a_long_flapping_alert_is_read_from_its_snapshot():
    app, engine = in_memory_detector(), Engine()
    engine.set_rule("rule-1", NPS_LOW)
    for minute in range(120):  # 60 raises and 60 resolutions
        run(app, engine, [40 if minute % 2 == 0 else 60], minute)
    alert_id = Alert.create_id(rule_fingerprint("rule-1", "store-042"))
    assert app.snapshots is not None and list(app.snapshots.get(alert_id))
    alert = app.repository.get(alert_id)
    assert alert.occurrence == 60 and not alert.firing
