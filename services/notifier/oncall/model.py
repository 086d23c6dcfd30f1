"""What the on-call engine computes with: a schedule parsed and checked once (Plan), its
layers and overrides, and the answers it gives (who is on call, and which rule made it so)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from shared.errors import Invalid

WEEK_MINUTES = 7 * 24 * 60


class Rotation(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    CUSTOM = "custom"  # a shift of `shift_hours`


class OverrideKind(StrEnum):
    ADD = "add"          # `person` is also on call
    REMOVE = "remove"    # `person` is not on call
    REPLACE = "replace"  # `person` is replaced by `by`


@dataclass(frozen=True, slots=True)
class Layer:
    name: str
    rotation: Rotation
    turn: timedelta          # wall-clock length of one person's turn
    anchor: datetime         # local reading of the hand-off that opens turn 0 (≤ start)
    start: datetime          # local reading from which the layer has someone on call
    members: tuple[str, ...]
    # Minutes of the week (Monday 00:00 = 0) in which the layer has someone; a window may
    # reach past the week's end (its end is then read in the following week). Empty: always.
    windows: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Override:
    id: str
    kind: OverrideKind
    person: str
    by: str | None
    start: datetime  # aware
    end: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    """A schedule as the engine reads it. Layers are ordered lowest first: the last one with
    someone on call wins."""

    name: str
    zone: ZoneInfo
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...]


@dataclass(frozen=True, slots=True)
class Source:
    """Which rule put a person on call: a layer (by name) or an override (by id)."""

    kind: str                 # "layer" | "override"
    name: str                 # the layer's name, or the override's id
    override: str | None = None  # the override's kind
    replaces: str | None = None

    def describe(self) -> str:
        if self.kind == "layer":
            return f"layer {self.name}"
        if self.override == OverrideKind.REPLACE:
            return f"override {self.name} (replaces {self.replaces})"
        return f"override {self.name} ({self.override})"


@dataclass(frozen=True, slots=True)
class OnCall:
    handle: str
    source: Source
    since: datetime  # when this rule's hold on the person began (the turn, window or override)
    until: datetime


@dataclass(frozen=True, slots=True)
class Answer:
    at: datetime
    on_call: list[OnCall]
    set_aside: list[OnCall]  # on call by a layer but removed or replaced by an override


@dataclass(frozen=True, slots=True)
class Shift:
    start: datetime
    end: datetime
    handle: str
    source: Source


class InvalidSchedule(Invalid):
    """A schedule or override breaks a rule (HTTP 422 naming the field)."""
