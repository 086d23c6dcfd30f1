"""Checks a stored event log against its hash chain, record by record in notification order,
and names every edited, deleted or reordered record it finds."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from shared.chain import GENESIS, link


class Record(NamedTuple):
    notification_id: int
    originator_id: Any
    originator_version: int
    topic: str
    state: bytes
    prev_hash: bytes | None
    chain_hash: bytes | None


@dataclass(frozen=True)
class Problem:
    kind: str  # edited | deleted | reordered
    notification_id: int | None
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.upper():<9} {self.detail}"


@dataclass
class ChainAudit:
    """Feed it every record in notification order, then `finish()` with the head row."""

    key: bytes
    anchor: bytes | None = None  # a head printed by an earlier run, kept elsewhere
    before_chain: int = 0
    chained: int = 0
    intact: int = 0  # chained records whose bytes match their hash
    head: tuple[int, bytes] | None = None  # the last chained record: notification id, hash
    problems: list[Problem] = field(default_factory=list)
    _seen: dict[bytes, int] = field(default_factory=dict)  # hash -> notification id
    _dangling: dict[bytes, int] = field(default_factory=dict)  # unknown prev -> who links to it
    _versions: dict[Any, int] = field(default_factory=dict)  # highest version seen
    _gaps: list[tuple[Record, int, int]] = field(default_factory=list)  # versions skipped
    _late: dict[Any, set[int]] = field(default_factory=dict)  # versions that came after higher
    _anchor_found: bool = False

    def add(self, r: Record) -> None:
        self._check_version(r)
        if r.chain_hash is None:
            if self.chained == 0:  # written before the store kept a chain
                self.before_chain += 1
            else:
                self._problem("edited", r, "its hash was removed")
            return
        self.chained += 1
        prev, own = bytes(r.prev_hash or b""), bytes(r.chain_hash)
        if link(self.key, prev, r.originator_id, r.originator_version, r.topic, r.state) == own:
            self.intact += 1
        else:
            self._problem("edited", r, "its stored bytes do not match its hash")
        expected = self.head[1] if self.head else GENESIS
        if prev != expected:
            self._broken_link(r, prev)
        if own in self._dangling:  # a record written earlier turned up later in the log
            later = self._dangling.pop(own)
            self._problem("reordered", r, f"was written right before notification {later}")
        self._seen[own] = r.notification_id
        self.head = (r.notification_id, own)
        self._anchor_found |= own == self.anchor

    def finish(self, head_row: tuple[bytes, int] | None) -> list[Problem]:
        """Compare the end of the log with the head row written with the last save."""
        self._report_gaps()
        for _prev, nid in self._dangling.items():
            self.problems.append(Problem("deleted", nid, f"notification {nid}: the record it "
                                         "was chained to is missing"))
        self._dangling.clear()
        if head_row is None:
            if self.chained:
                self.problems.append(Problem("deleted", None, "the chain's head row is missing"))
        else:
            self._check_tail(*head_row)
        if self.anchor is not None and not self._anchor_found:
            self.problems.append(Problem("deleted", None, "the anchored record "
                                         f"{self.anchor.hex()[:16]}… is not in the log"))
        return self.problems

    # -- checks ---------------------------------------------------------------------------
    def _broken_link(self, r: Record, prev: bytes) -> None:
        if prev in self._seen:
            self._problem("reordered", r, f"was written right after notification "
                          f"{self._seen[prev]}, not after the record now before it")
        else:  # deleted, unless the record it names shows up later (then: reordered)
            self._dangling[prev] = r.notification_id

    def _check_tail(self, head_hash: bytes, head_records: int) -> None:
        head_hash = bytes(head_hash)
        last = self.head[1] if self.head else None
        counts = f"the head counts {head_records} chained records, found {self.chained}"
        if last != head_hash:
            where = self._seen.get(head_hash)
            if where is None:
                self.problems.append(Problem("deleted", None, "the last record(s) are missing: "
                                             f"the head's record is not in the log ({counts})"))
                return
            # The last record written sits elsewhere: moved when the counts agree, else the
            # records after it were deleted (fewer) or added behind the service's back (more).
            kind = ("reordered" if head_records == self.chained else
                    "deleted" if head_records > self.chained else "edited")
            self.problems.append(Problem(kind, None, f"the last record written is notification "
                                         f"{where}, not the last in the log ({counts})"))
        elif head_records != self.chained:
            self.problems.append(Problem("deleted", None, counts))

    def _check_version(self, r: Record) -> None:
        last = self._versions.get(r.originator_id, 0)
        if r.originator_version > last + 1:  # deleted, unless the versions turn up later
            self._gaps.append((r, last + 1, r.originator_version - 1))
        elif r.originator_version <= last:
            self._late.setdefault(r.originator_id, set()).add(r.originator_version)
            self._problem("reordered", r, f"comes after version {last} of its aggregate")
        self._versions[r.originator_id] = max(last, r.originator_version)

    def _report_gaps(self) -> None:
        for r, low, high in self._gaps:
            late = self._late.get(r.originator_id, set())
            missing = [v for v in range(low, high + 1) if v not in late] if late else [low, high]
            if missing:
                versions = (f"version {missing[0]}" if missing[0] == missing[-1]
                            else f"versions {missing[0]}–{missing[-1]}")
                self._problem("deleted", r, f"{versions} of its aggregate missing")

    def _problem(self, kind: str, r: Record, what: str) -> None:
        self.problems.append(Problem(kind, r.notification_id, f"notification {r.notification_id} "
                                     f"(aggregate {r.originator_id} v{r.originator_version}): {what}"))
