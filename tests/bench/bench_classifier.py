"""Manual intake's classifier on a labelled sample of store-network reports
(data/intake_reports.jsonl, 360 short zh/en reports; data/make_intake_reports.py writes it).
Whole phrases are held out (every 4th phrase of each type), so no scored report shares its
wording with a trained one. Prints accuracy of the rules alone, the model alone and the two
combined as the service chooses, the time to train, and the latency of one proposal.

Run: .venv/bin/python -m tests.bench.bench_classifier [HOLD_OUT_EVERY]   (default 4)"""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import jieba

from services.incidents.intake.catalogue import load_catalogue
from services.incidents.intake.classifier import Classifier, Example
from services.incidents.intake.rules import guess_type
from tests.bench.infra import percentile

DATA = Path(__file__).parent / "data" / "intake_reports.jsonl"


def main(every: int = 4) -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    held = [r for r in rows if int(r["phrase"].split(":")[1]) % every == 0]
    trained = [r for r in rows if r not in held]
    catalogue = load_catalogue()
    classifier = Classifier(catalogue, min_examples=2)
    started = time.perf_counter()
    jieba.initialize()  # loads its dictionary once per process
    print(f"jieba dictionary load: {(time.perf_counter() - started) * 1000:.0f} ms")
    started = time.perf_counter()
    status = classifier.train([Example(r["text"], r["problem_type"]) for r in trained],
                              datetime.now(timezone.utc))
    train_ms = (time.perf_counter() - started) * 1000
    model = classifier._model
    assert model is not None, status["reason"]

    def accuracy(guess) -> float:
        return sum(guess(r["text"]) == r["problem_type"] for r in held) / len(held)

    print(f"reports: {len(rows)} ({len(trained)} trained, {len(held)} held out by phrase)")
    print(f"accuracy, rules alone:    {accuracy(lambda t: guess_type(catalogue, t).problem_type):.3f}")
    print(f"accuracy, model alone:    {accuracy(lambda t: model.guess(t).problem_type):.3f}")
    print(f"accuracy, as proposed:    {accuracy(lambda t: classifier.propose(t)['problem_type']):.3f}")
    print(f"training on {len(trained)} reports: {train_ms:.0f} ms")
    for name, propose in (("rules only", Classifier(catalogue).propose),
                          ("rules + model", classifier.propose)):
        times = []
        for _ in range(3):
            for r in held:
                t0 = time.perf_counter()
                propose(r["text"])
                times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(f"proposal latency, {name}: p50 {percentile(times, 50):.2f} ms, "
              f"p95 {percentile(times, 95):.2f} ms, p99 {percentile(times, 99):.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
