"""A projection batch's writes, sent together. A handler marked `@own_rows` only writes rows
of its own event's subject (or adds to counters, which commute) and reads nothing; the runner
records the statements of such handlers instead of sending each one, and sends every
statement once for all the events that made it (asyncpg's `executemany`: one round trip, one
parse) instead of one round trip per statement per event (docs/adr/projection-batches.md).

Order is kept where it matters: events of one subject apply in log order (each a round after
the subject's previous event), and a handler's own statements in the order it made them.
Events of different subjects in a round may apply in any order: that is what the mark says.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import asyncpg

Key = Callable[[Any], Any]


def own_rows(apply: Callable | None = None, *, key: Key | None = None) -> Any:
    """Mark a handler whose statements write only its event's subject's rows (`key`: the
    originator by default; the column its rows are found by when that differs) or commuting
    counters, and read nothing. Used bare (`@own_rows`) or with a key (`@own_rows(key=...)`)."""
    def mark(handler: Callable) -> Callable:
        handler.row_key = key or _originator  # type: ignore[attr-defined]
        return handler
    return mark(apply) if apply is not None else mark


def _originator(event: Any) -> Any:
    return event.originator_id


def row_key(handler: Callable) -> Key | None:
    """The subject key of a handler marked `own_rows` (bound methods included), else None."""
    return getattr(handler, "row_key", None)


class Recorded:
    """Stands in for the connection of a marked handler: keeps its statements in order."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple]] = []

    async def execute(self, sql: str, *args: Any) -> None:
        self.statements.append((sql, args))


class RowWrites:
    """The recorded statements of one batch, by subject, until `send`."""

    def __init__(self) -> None:
        self._events: list[tuple[Any, list[tuple[str, tuple]]]] = []

    async def record(self, handler: Callable, key: Key, event: Any) -> None:
        recorded = Recorded()
        await handler(recorded, event)
        if recorded.statements:
            self._events.append((key(event), recorded.statements))

    async def send(self, conn: asyncpg.Connection) -> None:
        """Write everything recorded: round by round, each statement once for the round's
        events that made it in the same sequence."""
        rounds: list[dict[tuple[str, ...], list[list[tuple]]]] = []
        seen: dict[Any, int] = defaultdict(int)
        for subject, statements in self._events:
            n = seen[subject]
            seen[subject] += 1
            if n == len(rounds):
                rounds.append({})
            shape = tuple(sql for sql, _ in statements)
            rounds[n].setdefault(shape, []).append([args for _, args in statements])
        self._events.clear()
        for groups in rounds:
            for shape, events in groups.items():
                for i, sql in enumerate(shape):
                    if len(events) == 1:
                        await conn.execute(sql, *events[0][i])
                    else:
                        await conn.executemany(sql, [args[i] for args in events])
