"""Property: whatever a series does, the detector raises exactly once per crossing into the
firing state and resolves exactly once per crossing back — never twice in a row."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from services.detector.app import DetectorApplication
from services.detector.domain import Alert

START = datetime(2026, 11, 2, tzinfo=timezone.utc)


def in_memory_detector() -> DetectorApplication:
    return DetectorApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def sample(value: float, minute: int) -> SimpleNamespace:
    return SimpleNamespace(metric="store.nps", entity="store-042", labels={}, value=value,
                           ts=START + timedelta(minutes=minute))


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.lists(st.floats(0, 100), min_size=1, max_size=8), min_size=1, max_size=6))
def test_raises_and_resolves_alternate_with_the_crossings(batches):
    app = in_memory_detector()
    app.define_rule(name="NPS low", metric="store.nps", operator="below", threshold=50,
                    severity="P1", labels={}, description="", actor="test", cause={})
    minute, values = 0, []
    for batch in batches:
        app.ingest([sample(v, minute + i) for i, v in enumerate(batch)], actor="test", cause={})
        minute += len(batch)
        values += batch

    expected, firing = [], False
    for value in values:
        if (value < 50) != firing:
            firing = not firing
            expected.append("Raised" if firing else "Resolved")
    rule = app.rules()[0]
    alert = app.get_or_none(Alert.create_id(rule.fingerprint("store-042")))
    stored = [type(e).__name__ for e in app.stored_events(alert.id)][1:] if alert else []
    assert stored == expected


def test_a_long_flapping_alert_is_read_from_its_snapshot():
    app = in_memory_detector()
    app.define_rule(name="NPS low", metric="store.nps", operator="below", threshold=50,
                    severity="P1", labels={}, description="", actor="test", cause={})
    for minute in range(120):  # 60 raises and 60 resolutions
        app.ingest([sample(40 if minute % 2 == 0 else 60, minute)], actor="test", cause={})
    alert_id = Alert.create_id(app.rules()[0].fingerprint("store-042"))
    assert app.snapshots is not None and list(app.snapshots.get(alert_id))
    alert = app.repository.get(alert_id)
    assert alert.occurrence == 60 and not alert.firing
