"""What benchmarks share: real servers (NATS_URL / DATABASE_URL if set, else embedded ones)
and the figures they print (percentiles, CPU time per call)."""
from __future__ import annotations

import os
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from closedloop.embedded.nats_server import NatsServer
from closedloop.embedded.postgres import EmbeddedPostgres, drop_database, ensure_database


@contextmanager
def servers():
    tmp = Path(tempfile.mkdtemp(prefix="closedloop-bench-"))
    nats = None if os.environ.get("NATS_URL") else NatsServer(tmp / "nats").start()
    pg = None if os.environ.get("DATABASE_URL") else EmbeddedPostgres(tmp / "pg").start()
    server_url = os.environ.get("DATABASE_URL") or pg.server_url
    name = f"cl_bench_{uuid.uuid4().hex[:8]}"
    try:
        yield (os.environ.get("NATS_URL") or nats.url), ensure_database(server_url, name)
    finally:
        drop_database(server_url, name)
        if nats:
            nats.stop()
        if pg:
            pg.stop()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def per_op(run, n: int) -> float:
    """Median over 5 rounds of CPU time per call, in microseconds."""
    rounds = []
    for _ in range(5):
        started = time.process_time()
        run(n)
        rounds.append((time.process_time() - started) / n * 1e6)
    return sorted(rounds)[2]
