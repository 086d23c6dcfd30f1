"""The storm benchmark's pure parts: the shape of its load, its table's figures, and how a
py-spy profile is summarised."""
from __future__ import annotations

from collections import Counter

import pytest

from tests.bench.storm.load import SendLog, plan
from tests.bench.storm.observe import top_functions
from tests.bench.storm.report import median, row


def test_a_burst_sends_each_alert_once_in_batches_of_64():
    batches = plan(1_000)
    assert [len(b) for b in batches] == [64] * 15 + [40]
    assert sorted(a for b in batches for a in b) == list(range(1_000))


def test_a_storm_resends_alerts_already_sent_and_never_twice_in_one_batch():
    batches = plan(10_000, resend_share=0.8)
    sends = [a for b in batches for a in b]
    assert len(sends) == 10_000 and len(set(sends)) == 2_000
    assert batches[0] == list(range(64))  # nothing sent yet: the first batch is all new
    seen: set[int] = set()
    resent = []
    for batch in batches:
        assert len(set(batch)) == len(batch)
        new = [a for a in batch if a not in seen]
        assert new == list(range(len(seen), len(seen) + len(new)))  # dense, in order
        resent.append(len(batch) - len(new))
        seen.update(batch)
    # the re-sends are spread evenly: each later full batch carries about 80% of them
    assert min(resent[1:-1]) >= 50 and max(resent[1:-1]) <= 53


def test_the_same_seed_gives_the_same_storm():
    assert plan(5_000, 0.8) == plan(5_000, 0.8)
    assert plan(5_000, 0.8) != plan(5_000, 0.8, seed=9)


def test_too_few_distinct_alerts_to_fill_the_first_batch_is_refused():
    with pytest.raises(ValueError):
        plan(100, resend_share=0.5)


def test_a_row_measures_from_the_first_send_to_each_alerts_page():
    log = SendLog(first_sent={0: 10.0, 1: 10.0, 2: 11.0, 3: 11.0}, accepted=4,
                  taken={0, 1, 2}, started=10.0, finished=12.0, statuses=Counter({409: 1}))
    r = row("closedloop", "tiny", 4, log, paged={0: 10.5, 1: 12.0}, duplicated=1)
    # alert 2 was accepted and never paged (lost); alert 3 was never accepted (refused)
    assert (r.distinct, r.ingest, r.lost, r.refused, r.duplicated) == (4, 2.0, 1, 1, 1)
    assert r.notifications == 2 / 2.0  # two pages, first send at 10 s, last page at 12 s
    assert (r.p50, r.p99) == (0.5, 2.0)
    assert r.errors == {409: 1}


def test_a_row_tells_apart_the_pages_of_alerts_first_sent_after_the_first_second():
    log = SendLog(first_sent={0: 10.0, 1: 10.5, 2: 11.0, 3: 12.0}, accepted=4,
                  taken={0, 1, 2, 3}, started=10.0, finished=12.0)
    r = row("closedloop", "tiny", 4, log, paged={0: 13.0, 1: 13.0, 2: 11.1, 3: 12.2},
            duplicated=0)
    assert r.p99 == 3.0  # the first second's alerts are in the whole run's tail
    assert r.later == "first sent after 1 s (2 pages): p50 100 ms / p99 200 ms"
    assert row("closedloop", "tiny", 4, log, paged={0: 13.0}, duplicated=0).later == ""


def test_a_median_row_keeps_every_loss_and_error():
    def run(p50, lost, status):
        log = SendLog(first_sent={0: 0.0, 1: 0.0}, accepted=2, taken={0, 1}, started=0.0,
                      finished=1.0, statuses=Counter({status: 1}))
        paged = {0: p50} if lost else {0: p50, 1: p50}
        return row("closedloop", "s", 2, log, paged, duplicated=0)

    m = median([run(1.0, True, 409), run(2.0, False, 503), run(3.0, False, 409)])
    assert m.p50 == 2.0 and m.lost == 1 and m.errors == {409: 2, 503: 1}


def test_a_profile_is_summarised_per_function_self_and_total():
    collapsed = "\n".join([
        "main (app.py:1);handle (services/x/app.py:10);commit (psycopg/db.py:5) 6",
        "main (app.py:1);handle (services/x/app.py:12);read (psycopg/db.py:9) 3",
        "main (app.py:1);handle (services/x/app.py:10);handle (services/x/app.py:20) 1",
    ])
    samples, own, anywhere = top_functions(collapsed)
    assert samples == 10
    assert own[:2] == [("commit (psycopg/db.py)", 6), ("read (psycopg/db.py)", 3)]
    # total: the project's own functions only, a recursive one counted once per stack
    assert anywhere == [("handle (services/x/app.py)", 10)]


def test_the_open_scenario_is_named_for_its_count_and_run_only_when_asked():
    from tests.bench.bench_storm import scenarios

    known = scenarios(20.0, 250.0, open_alerts=20_000)
    assert known["open-20k"].sends == 20_000 and known["open-20k"].resend_share == 0.0
    assert "open-12345" in scenarios(20.0, 250.0, open_alerts=12_345)
    assert [s.name for s in known.values() if not s.hold] == ["burst-1k", "storm-10k", "steady-250"]


def test_memory_held_is_noted_at_marks_and_settled_after_the_run():
    import psutil

    from tests.bench.storm.observe import PeakMemory

    with PeakMemory({"me": lambda: [psutil.Process()]}, interval=0.01) as memory:
        memory.sample()
        memory.mark("10000 paged")
        memory.settle(0.05)
    assert memory.settled["me"] > 0 and memory.marks[0][0] == "10000 paged"
    assert "settled PSS MiB: me" in memory.line() and "10000 paged" in memory.line()
