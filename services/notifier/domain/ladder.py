"""An escalation ladder: ordered steps, each telling its targets and then waiting its delay
for an acknowledgement before the next step (after the last, the ladder starts again while
repeats are left). Step 0 is told when the incident opens. Targets are resolved when their
step fires, so "the schedule" means whoever is on call then. No I/O here."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.errors import Invalid

MAX_STEPS = 20
MAX_REPEAT = 10
MAX_TARGETS = 50


class TargetKind(StrEnum):
    CHANNEL = "channel"  # a channel id: the message goes to the channel itself
    PERSON = "person"  # a person's handle
    SCHEDULE = "schedule"  # whoever is on call on that schedule when the step fires
    TEAM = "team"  # the team's on-call people, or all its members without a schedule
    ROLE = "role"  # the holder of an organisation role for the incident's entity


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    ref: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": str(self.kind), "ref": self.ref}


@dataclass(frozen=True)
class Step:
    targets: tuple[Target, ...]
    delay_seconds: float  # how long this step waits for an acknowledgement

    def as_dict(self) -> dict[str, Any]:
        return {"targets": [t.as_dict() for t in self.targets],
                "delay_seconds": self.delay_seconds}


@dataclass(frozen=True)
class Fired:
    """One step of one pass over the ladder."""

    step: int
    round: int  # 0 for the first pass, 1 for the first repeat …

    @property
    def reason(self) -> str:
        """Why its messages are sent: part of each delivery's id and of the public contract.
        The first pass keeps the names messages have always had."""
        if self.round == 0:
            return "incident.opened" if self.step == 0 else f"escalation.step{self.step}"
        return f"escalation.step{self.step}.repeat{self.round}"


@dataclass(frozen=True)
class Ladder:
    steps: tuple[Step, ...]
    repeat: int = 0
    # Acknowledged but not resolved this long: the acknowledger is reminded and the climb
    # resumes. None: an acknowledgement stops the ladder for good.
    retrigger_seconds: float | None = None

    @classmethod
    def parse(cls, steps: list[dict[str, Any]], repeat: int = 0, field: str = "steps",
              retrigger_seconds: float | None = None) -> "Ladder":
        """A ladder from its definition; InvalidLadder names the field that is wrong."""
        if not steps:
            raise InvalidLadder(field, "list at least one step")
        if len(steps) > MAX_STEPS:
            raise InvalidLadder(field, f"at most {MAX_STEPS} steps")
        if not isinstance(repeat, int) or not 0 <= repeat <= MAX_REPEAT:
            raise InvalidLadder("repeat", f"must be a whole number from 0 to {MAX_REPEAT}")
        if retrigger_seconds is not None and not _positive(retrigger_seconds):
            raise InvalidLadder("retrigger_after_seconds", "must be a positive number of "
                                f"seconds (or null), got {retrigger_seconds!r}")
        return cls(tuple(_step(s, f"{field}[{i}]") for i, s in enumerate(steps)), repeat,
                   None if retrigger_seconds is None else float(retrigger_seconds))

    @classmethod
    def from_channels(cls, notify: list[str], escalate_after_seconds: float,
                      escalate_to: list[str]) -> "Ladder":
        """The shorthand policies have always had: channels told at once, other channels
        after a delay."""
        first = Step(tuple(Target(TargetKind.CHANNEL, c) for c in notify),
                     float(escalate_after_seconds))
        if not escalate_to:
            return cls((first,))
        return cls((first, Step(tuple(Target(TargetKind.CHANNEL, c) for c in escalate_to),
                                float(escalate_after_seconds))))

    def as_list(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.steps]

    def after(self, fired: Fired) -> Fired | None:
        """The step that follows, or None when the ladder (with its repeats) is done."""
        if fired.step + 1 < len(self.steps):
            return Fired(fired.step + 1, fired.round)
        if fired.round < self.repeat:
            return Fired(0, fired.round + 1)
        return None

    def next_due(self, fired: Fired, fired_at: datetime) -> tuple[Fired, datetime] | None:
        following = self.after(fired)
        if following is None:
            return None
        return following, fired_at + timedelta(seconds=self.steps[fired.step].delay_seconds)

    def targets(self, step: int) -> tuple[Target, ...]:
        return self.steps[step].targets

    def channel_ids(self) -> set[str]:
        return {t.ref for s in self.steps for t in s.targets if t.kind is TargetKind.CHANNEL}


def merge(ladders: list[Ladder]) -> Ladder:
    """Several matching policies make one ladder: step n tells every policy's step n, waits
    the shortest of their delays, and the most repeats win, as does the shortest re-trigger.
    Targets keep policy order and appear once per step."""
    depth = max(len(ladder.steps) for ladder in ladders)
    steps = []
    for n in range(depth):
        present = [ladder.steps[n] for ladder in ladders if n < len(ladder.steps)]
        targets = tuple(dict.fromkeys(t for s in present for t in s.targets))
        steps.append(Step(targets, min(s.delay_seconds for s in present)))
    retriggers = [ladder.retrigger_seconds for ladder in ladders
                  if ladder.retrigger_seconds is not None]
    return Ladder(tuple(steps), max(ladder.repeat for ladder in ladders),
                  min(retriggers) if retriggers else None)


def _step(raw: dict[str, Any], field: str) -> Step:
    if not isinstance(raw, dict):
        raise InvalidLadder(field, "a step is {targets: [...], delay_seconds: N}")
    targets = raw.get("targets") or []
    if not targets:
        raise InvalidLadder(f"{field}.targets", "list at least one target")
    if len(targets) > MAX_TARGETS:
        raise InvalidLadder(f"{field}.targets", f"at most {MAX_TARGETS} targets")
    parsed = tuple(_target(t, f"{field}.targets[{i}]") for i, t in enumerate(targets))
    if len(set(parsed)) != len(parsed):
        raise InvalidLadder(f"{field}.targets", "a target is listed twice")
    delay = raw.get("delay_seconds")
    if not _positive(delay):
        raise InvalidLadder(f"{field}.delay_seconds",
                            f"must be a positive number of seconds, got {delay!r}")
    return Step(parsed, float(delay))


def _positive(seconds: Any) -> bool:
    return (isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
            and math.isfinite(seconds) and seconds > 0)


def _target(raw: Any, field: str) -> Target:
    kinds = ", ".join(TargetKind)
    if not isinstance(raw, dict) or set(raw) != {"kind", "ref"}:
        raise InvalidLadder(field, f"a target is {{kind, ref}} with kind one of {kinds}")
    if raw["kind"] not in TargetKind.__members__.values():
        raise InvalidLadder(f"{field}.kind", f"{raw['kind']!r} is not one of {kinds}")
    ref = str(raw["ref"]).strip()
    if not ref:
        raise InvalidLadder(f"{field}.ref", "name the channel, person, schedule, team or role")
    return Target(TargetKind(raw["kind"]), ref)


class InvalidLadder(Invalid):
    """A ladder definition breaks a rule (HTTP 422 naming the field)."""
