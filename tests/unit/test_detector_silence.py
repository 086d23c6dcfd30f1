"""Silent series of alerted rules, pure: when a rule × entity counts as silent, that each
silence is published once, and that the first sample after it ends it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.detector.silence import MetricSilence, Watched, changes, silent_after
from services.detector.translate import to_contract
from shared.contracts import MetricResumed, MetricSilent

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
HOUR = 3600.0
WHO = {"actor": "detector:clock", "cause": {}}
NPS = Watched(fingerprint="fp-042", rule_id="rule-1", name="NPS collapse", metric="store.nps",
              entity="store-042", after=silent_after(HOUR, 2 * 86400))


def test_silent_after_three_intervals_or_the_default_for_a_rule_without_one():
    assert silent_after(HOUR, 86400) == 3 * HOUR
    assert silent_after(None, 86400) == 86400


def test_a_series_is_silent_after_three_missed_intervals_and_sounds_again_with_a_sample():
    now = T0.timestamp()
    other = Watched("fp-007", "rule-1", "NPS collapse", "store.nps", "store-007", 3 * HOUR)
    unknown = Watched("fp-009", "rule-1", "NPS collapse", "store.nps", "store-009", 3 * HOUR)
    last = {"fp-042": now - 3 * HOUR - 1, "fp-007": now - 3 * HOUR}
    began, ended = changes([NPS, other, unknown], last, {}, now)
    assert began == [(NPS, now - 3 * HOUR - 1)] and ended == []  # three intervals exactly: not yet

    # Published already: not again; a sample after its start ends it.
    assert changes([NPS], last, {"fp-042": last["fp-042"]}, now + 86400) == ([], [])
    began, ended = changes([NPS], {"fp-042": now}, {"fp-042": last["fp-042"]}, now)
    assert (began, ended) == ([], [(NPS, last["fp-042"])])


def test_a_silence_is_recorded_once_and_ended_by_a_later_sample():
    silence = MetricSilence(fingerprint="fp-042")
    assert silence.begin(NPS, T0, T0 + timedelta(hours=4), **WHO)
    assert not silence.begin(NPS, T0, T0 + timedelta(hours=5), **WHO)
    assert not silence.end(NPS, T0, T0 + timedelta(hours=5), **WHO)  # no sample after it
    assert silence.end(NPS, T0 + timedelta(days=2), T0 + timedelta(days=2), **WHO)
    assert not silence.silent and not silence.end(NPS, T0 + timedelta(days=3), T0, **WHO)

    began, ended = (to_contract(e) for e in silence.collect_events()[1:])
    assert isinstance(began, MetricSilent) and isinstance(ended, MetricResumed)
    assert (began.fingerprint, began.metric, began.entity, began.last_sample_at,
            began.after_seconds) == ("fp-042", "store.nps", "store-042", T0, 3 * HOUR)
    assert (ended.last_sample_at, ended.resumed_at, ended.silent_seconds) == (
        T0, T0 + timedelta(days=2), 2 * 86400)
