"""Whether an alert is held quiet, and until when: the pure decision over silences,
maintenance windows and inhibition rules. A held alert is still recorded; only telling
people waits (or, for an inhibition, is not needed while its source fires)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.notifier.quiet.inhibitions import InhibitionRule
from services.notifier.quiet.matchers import matches_all
from services.notifier.quiet.silences import Silence
from services.notifier.quiet.windows import MaintenanceWindow

Labels = Mapping[str, str]
MAX_STEPS = 100  # holds chained end to end that hold_ends follows before it gives up


class HoldKind(StrEnum):
    SILENCE = "silence"
    MAINTENANCE = "maintenance"
    INHIBITION = "inhibition"


@dataclass(frozen=True)
class Hold:
    kind: HoldKind
    id: UUID
    name: str            # a window's or rule's name; a silence's comment
    until: datetime | None  # None: while the inhibiting alert fires
    by: Labels | None = None  # the inhibiting alert's labels

    def view(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "id": str(self.id), "name": self.name,
                "until": self.until, "by": dict(self.by) if self.by is not None else None}


def held_by(labels: Labels, at: datetime, silences: Sequence[Silence],
            windows: Sequence[MaintenanceWindow], inhibitions: Sequence[InhibitionRule],
            firing: Iterable[Labels]) -> Hold | None:
    """The first reason holding this alert at `at`: a silence (the one ending last), else a
    maintenance window (likewise), else an inhibition rule; None when nothing holds it."""
    return (_silence(labels, at, silences) or _window(labels, at, windows)
            or _inhibition(labels, inhibitions, list(firing)))


def _silence(labels: Labels, at: datetime, silences: Sequence[Silence]) -> Hold | None:
    holding = [s for s in silences if s.holds(dict(labels), at)]
    if not holding:
        return None
    last = max(holding, key=lambda s: s.ends_at)
    return Hold(HoldKind.SILENCE, last.id, last.comment, last.ends_at)


def _window(labels: Labels, at: datetime, windows: Sequence[MaintenanceWindow]) -> Hold | None:
    found: Hold | None = None
    for window in windows:
        if window.deleted or not matches_all(window.parsed, labels):
            continue
        open_ = window.open_at(at)
        if open_ is not None and (found is None or open_[1] > found.until):  # type: ignore[operator]
            found = Hold(HoldKind.MAINTENANCE, window.id, window.name, open_[1])
    return found


def _inhibition(labels: Labels, rules: Sequence[InhibitionRule],
                firing: list[Labels]) -> Hold | None:
    for rule in rules:
        source = rule.source_of(labels, firing)
        if source is not None:
            return Hold(HoldKind.INHIBITION, rule.id, rule.name, None, source)
    return None


def hold_ends(labels: Labels, at: datetime, silences: Sequence[Silence],
              windows: Sequence[MaintenanceWindow], inhibitions: Sequence[InhibitionRule],
              firing: Iterable[Labels]) -> tuple[datetime | None, Hold | None]:
    """When the alert may be told about, if the rules stay as they are: `(at, None)` when
    nothing holds it now; `(None, hold)` when an inhibition holds it (it ends when the source
    resolves, which only the firing set can say); else the first instant at which no silence
    or window holds it (holds ending and starting back to back are followed)."""
    firing = list(firing)
    when = at
    for _ in range(MAX_STEPS):
        hold = held_by(labels, when, silences, windows, inhibitions, firing)
        if hold is None:
            return when, None
        if hold.until is None:
            return None, hold
        when = _latest_end(labels, when, silences, windows, hold.until)
    return None, held_by(labels, when, silences, windows, inhibitions, firing)


def _latest_end(labels: Labels, at: datetime, silences: Sequence[Silence],
                windows: Sequence[MaintenanceWindow], floor: datetime) -> datetime:
    ends = [floor, *(s.ends_at for s in silences if s.holds(dict(labels), at))]
    for window in windows:
        if not window.deleted and matches_all(window.parsed, labels):
            open_ = window.open_at(at)
            if open_ is not None:
                ends.append(open_[1])
    return max(ends)
