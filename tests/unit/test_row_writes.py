"""RowWrites: a batch's statements of handlers marked `own_rows`, sent together in an order
that keeps each subject's events (and each handler's statements) in theirs."""
from __future__ import annotations

from types import SimpleNamespace

from shared.row_writes import RowWrites, own_rows, row_key


class Sent:
    """Records what reaches the connection: one entry per round trip."""

    def __init__(self) -> None:
        self.trips: list[tuple[str, list[tuple]]] = []

    async def execute(self, sql: str, *args) -> None:
        self.trips.append((sql, [args]))

    async def executemany(self, sql: str, rows: list[tuple]) -> None:
        self.trips.append((sql, list(rows)))


@own_rows
async def opened(conn, e) -> None:
    await conn.execute("INSERT row", e.originator_id)
    await conn.execute("UPDATE clocks", e.originator_id)


@own_rows
async def moved(conn, e) -> None:
    await conn.execute("UPDATE row", e.originator_id, e.to)


@own_rows(key=lambda e: e.fingerprint)
async def raised(conn, e) -> None:
    if e.counted:
        await conn.execute("COUNT", e.rule)
    await conn.execute("UPSERT alert", e.fingerprint)


def event(subject: str, **fields) -> SimpleNamespace:
    return SimpleNamespace(originator_id=subject, **fields)


async def record(writes: RowWrites, handler, e) -> None:
    await writes.record(handler, row_key(handler), e)


async def test_a_batch_sends_each_statement_once_for_all_its_subjects():
    writes, conn = RowWrites(), Sent()
    for subject in ("a", "b", "c"):
        await record(writes, opened, event(subject))
    await writes.send(conn)
    assert conn.trips == [("INSERT row", [("a",), ("b",), ("c",)]),
                          ("UPDATE clocks", [("a",), ("b",), ("c",)])]
    await writes.send(conn)  # sent: nothing left to send again
    assert len(conn.trips) == 2


async def test_a_subject_s_later_event_waits_for_its_earlier_one():
    writes, conn = RowWrites(), Sent()
    await record(writes, opened, event("a"))
    await record(writes, moved, event("a", to=1))
    await record(writes, opened, event("b"))
    await record(writes, moved, event("a", to=2))
    await writes.send(conn)
    assert conn.trips == [
        ("INSERT row", [("a",), ("b",)]), ("UPDATE clocks", [("a",), ("b",)]),  # round 1
        ("UPDATE row", [("a", 1)]),  # round 2: a's second event
        ("UPDATE row", [("a", 2)]),  # round 3: its third
    ]


async def test_handlers_that_made_different_statements_are_sent_apart_in_their_own_order():
    writes, conn = RowWrites(), Sent()
    await record(writes, raised, SimpleNamespace(fingerprint="f1", counted=True, rule="r"))
    await record(writes, raised, SimpleNamespace(fingerprint="f2", counted=False, rule="r"))
    await record(writes, raised, SimpleNamespace(fingerprint="f3", counted=True, rule="r"))
    await record(writes, raised, SimpleNamespace(fingerprint="f1", counted=False, rule="r"))
    await writes.send(conn)
    assert conn.trips == [
        ("COUNT", [("r",), ("r",)]), ("UPSERT alert", [("f1",), ("f3",)]),
        ("UPSERT alert", [("f2",)]),
        ("UPSERT alert", [("f1",)]),  # f1 again: after its first
    ]


def test_only_marked_handlers_have_a_key():
    async def plain(conn, e) -> None: ...
    assert row_key(plain) is None
    assert row_key(moved)(event("x")) == "x"
    assert row_key(raised)(SimpleNamespace(fingerprint="f")) == "f"
