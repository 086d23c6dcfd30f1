"""One table row per scenario run, from what the senders logged and the receiver took."""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from tests.bench.infra import percentile
from tests.bench.storm.load import SendLog


@dataclass
class Row:
    system: str
    scenario: str
    sends: int
    distinct: int
    ingest: float  # alert sends accepted per second of sending
    notifications: float  # distinct pages per second, first send → last receipt
    p50: float | None  # alert → webhook, seconds
    p95: float | None
    p99: float | None
    lost: int  # accepted at least once, never paged
    duplicated: int
    refused: int = 0  # never accepted (every body carrying it answered 4xx or failed)
    errors: Counter = field(default_factory=Counter)
    memory: str = ""
    later: str = ""  # p50 / p99 of the alerts first sent after the first second


# A steady scenario's first body is its largest burst of new alerts on a cold stack; its tail
# is reported with the whole run and, apart, for what was first sent after it.
FIRST_SECONDS = 1.0


def row(system: str, scenario: str, sends: int, log: SendLog, paged: dict[int, float],
        duplicated: int) -> Row:
    """`paged`: alert index → first receipt of its page (same clock as the log)."""
    distinct = len(log.first_sent)
    latencies = [at - log.first_sent[alert] for alert, at in paged.items()]
    later = [at - log.first_sent[alert] for alert, at in paged.items()
             if log.first_sent[alert] - log.started >= FIRST_SECONDS]
    sending = max(log.finished - log.started, 1e-9)
    last = max(paged.values(), default=log.started)
    return Row(system, scenario, sends, distinct, log.accepted / sending,
               len(paged) / max(last - log.started, 1e-9) if paged else 0.0,
               *(percentile(latencies, p) if latencies else None for p in (50, 95, 99)),
               lost=len(log.taken - paged.keys()), duplicated=duplicated,
               refused=len(log.first_sent.keys() - log.taken), errors=log.statuses,
               later=(f"first sent after {FIRST_SECONDS:.0f} s ({len(later)} pages): p50 "
                      f"{seconds(percentile(later, 50))} / p99 {seconds(percentile(later, 99))}"
                      if later else ""))


def median(rows: list[Row]) -> Row:
    """Medians of the rates and latencies; lost, duplicated and errors summed over the runs."""
    def mid(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    first = rows[0]
    return Row(first.system, f"{first.scenario} (median of {len(rows)})", first.sends,
               first.distinct, *(mid(getattr(r, f) for r in rows) for f in
                                 ("ingest", "notifications", "p50", "p95", "p99")),
               lost=sum(r.lost for r in rows), duplicated=sum(r.duplicated for r in rows),
               refused=sum(r.refused for r in rows),
               errors=sum((r.errors for r in rows), Counter()))


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


HEADER = (f"{'system':<12} {'scenario':<24} {'sends':>6} {'distinct':>8} {'ingest/s':>9} "
          f"{'notif/s':>8} {'p50':>9} {'p95':>9} {'p99':>9} {'lost':>5} {'dup':>4} {'refused':>7}  HTTP errors")


def format_row(r: Row) -> str:
    errors = ", ".join(f"{k}×{v}" for k, v in sorted(r.errors.items(), key=str)) or "none"
    return (f"{r.system:<12} {r.scenario:<24} {r.sends:>6} {r.distinct:>8} {r.ingest:>9,.0f} "
            f"{r.notifications:>8,.1f} {seconds(r.p50):>9} {seconds(r.p95):>9} "
            f"{seconds(r.p99):>9} {r.lost:>5} {r.duplicated:>4} {r.refused:>7}  {errors}")
