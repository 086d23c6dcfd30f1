"""The silence watch's share of a detector tick (services/detector/silence_watch.py), without
its one query: N alerted rule × entity pairs looked up in the evaluator's series and judged
silent or sounding, with a tenth of them silent. Runs under the evaluator's lock, so it is
time the ingest waits.

Run: .venv/bin/python -m tests.bench.bench_silence [pairs] [ticks]"""
from __future__ import annotations

import sys
import time

import numpy as np

from services.detector.app import DetectorApplication
from services.detector.evaluator import Evaluator
from services.detector.rules import Engine, MetricSpec, RuleSpec
from services.detector.silence import changes
from services.detector.silence_watch import SilenceWatch

METRIC = MetricSpec(name="store.nps", interval="1h", retention="35d")
RULE = RuleSpec.model_validate({"name": "NPS collapse", "metric": "store.nps", "severity": "P0",
                                "when": {"value": {}, "below": 50}})


def main(pairs: int = 10_000, ticks: int = 50) -> None:
    evaluator = Evaluator(DetectorApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"}),
                          store=None)  # type: ignore[arg-type]  # the query is not measured
    engine = evaluator.engine = Engine()
    engine.set_rule("rule-1", RULE, METRIC)
    now = 1_800_000_000.0
    entities = [f"store-{i:06d}" for i in range(pairs)]
    ids = np.array([engine.series("store.nps", e, {}) for e in entities], dtype=np.int64)
    for i, (entity, sid) in enumerate(zip(entities, ids)):
        evaluator.known[("store.nps", entity)] = (i, int(sid), {})
    silent = np.arange(pairs) % 10 == 0  # a tenth sent nothing for a day
    engine.evaluate(ids, np.where(silent, now - 86400, now - 600), np.full(pairs, 70.0))
    rows = [{"fingerprint": f"fp-{e}", "rule_id": "rule-1", "entity": e, "name": "NPS collapse"}
            for e in entities]
    watch = SilenceWatch(evaluator, horizon_seconds=35 * 86400, default_after=2 * 86400)
    open_ = {f"fp-{e}": now - 86400 for e, s in zip(entities[:pairs // 20], silent) if s}

    timings = []
    for _ in range(ticks):
        started = time.perf_counter()
        watched, last = watch._last_samples(rows)
        began, ended = changes(watched, last, open_, now)
        timings.append(time.perf_counter() - started)
    expected = int(silent.sum()) - len(open_)
    assert len(began) == expected and not ended, (len(began), expected)
    ms = np.array(timings) * 1000
    print(f"silence watch: {pairs:,} alerted pairs, {len(began):,} newly silent per tick: "
          f"min {ms.min():.1f} ms, median {np.median(ms):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms per tick "
          f"({pairs / np.median(ms) * 1000:,.0f} pairs/s)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
