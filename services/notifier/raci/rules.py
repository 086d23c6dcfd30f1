"""The RACI rules as one aggregate: the matrix (per severity, which organisation roles are
Responsible, Accountable, Consulted and Informed) and the deadline settings (when the
Responsible is warned, how long before the chase goes one level up, how long a verification
may take, the stage time boxes). Revised as a whole, so history reads as the rules in force."""
from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.directory.people import check_time_zone
from services.notifier.domain.common import Cause, Severity, key_id
from shared.errors import Invalid
from shared.limits import NAME

RACI_RULES_ID = key_id("raci-rules")


class Raci(StrEnum):
    RESPONSIBLE = "responsible"
    ACCOUNTABLE = "accountable"
    CONSULTED = "consulted"
    INFORMED = "informed"


class Stage(StrEnum):
    """The incident stages with a time box (incidents' 方案制定中, 执行中, 验证中)."""

    PLANNING = "planning"
    EXECUTING = "executing"
    VERIFYING = "verifying"


DEFAULT_DEADLINES: dict[str, Any] = {
    "warn_at": 0.8,  # share of the time after which the Responsible is warned
    "up_after_seconds": 3600.0,  # after the deadline, until the chase goes one level up
    "up_roles": [],  # tried, in order, above the Accountable's unit when its role is not held there
    "verify_within_seconds": 3 * 86400.0,  # from an action's completion to its verification
    "time_zone": "Asia/Shanghai",  # where an action's due date ends
    "stages": {},  # severity → stage → seconds
}


class RaciRules(Aggregate):
    @staticmethod
    def create_id() -> UUID:
        return RACI_RULES_ID

    @event("Defined")
    def __init__(self, matrix: dict, deadlines: dict, at: datetime, actor: str,
                 cause: Cause) -> None:
        self.matrix, self.deadlines = matrix, deadlines
        self.updated_at, self.updated_by = at, actor

    def revise(self, matrix: dict, deadlines: dict, at: datetime, actor: str,
               cause: Cause) -> bool:
        """Both as normalised by `normalised`; False when nothing changes."""
        if matrix == self.matrix and deadlines == self.deadlines:
            return False
        self._revise(matrix=matrix, deadlines=deadlines, at=at, actor=actor, cause=cause)
        return True

    @event("Revised")
    def _revise(self, matrix: dict, deadlines: dict, at: datetime, actor: str,
                cause: Cause) -> None:
        self.matrix, self.deadlines = matrix, deadlines
        self.updated_at, self.updated_by = at, actor

    def roles_for(self, severity: str) -> dict[str, list[str]] | None:
        """The organisation roles of each RACI letter for this severity (None: not listed)."""
        return self.matrix.get(severity)


def normalised(matrix: dict[str, Any], deadlines: dict[str, Any] | None) -> tuple[dict, dict]:
    """The matrix and deadline settings as stored; InvalidRaci names the field that is
    wrong and how to fix it."""
    return ({str(Severity(s)): _row(matrix[s], f"matrix.{s}") for s in sorted(_severities(matrix))},
            _deadlines(deadlines or {}))


def _severities(matrix: Any) -> list[str]:
    if not isinstance(matrix, dict):
        raise InvalidRaci("matrix", "map severities to their roles, e.g. {P0: {responsible: "
                          "[店长], accountable: [战区负责人]}}")
    for severity in matrix:
        if severity not in Severity.__members__.values():
            raise InvalidRaci(f"matrix.{severity}", f"not a severity; use one of "
                              f"{', '.join(Severity)}")
    return list(matrix)


def _row(row: Any, field: str) -> dict[str, list[str]]:
    if not isinstance(row, dict) or set(row) - set(Raci):
        raise InvalidRaci(field, f"a row maps {', '.join(Raci)} to lists of organisation "
                          "roles")
    found: dict[str, list[str]] = {}
    for letter in Raci:
        roles = row.get(letter) or []
        if not isinstance(roles, list) or any(not isinstance(r, str) or not r.strip()
                                              or len(r) > NAME for r in roles):
            raise InvalidRaci(f"{field}.{letter}", "list organisation role names, e.g. [店长]")
        if len(set(roles)) != len(roles):
            raise InvalidRaci(f"{field}.{letter}", "a role is listed twice")
        found[str(letter)] = [r.strip() for r in roles]
    for letter in (Raci.RESPONSIBLE, Raci.ACCOUNTABLE):
        if not found[letter]:
            raise InvalidRaci(f"{field}.{letter}", "name at least one role: every incident "
                              "needs someone who does the work and someone who answers for it")
    return found


def _deadlines(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or set(raw) - set(DEFAULT_DEADLINES):
        raise InvalidRaci("deadlines", f"settings are {', '.join(DEFAULT_DEADLINES)}")
    found = {**DEFAULT_DEADLINES, **raw}
    share = found["warn_at"]
    if not _number(share) or not 0 < share < 1:
        raise InvalidRaci("deadlines.warn_at", f"a share of the time between 0 and 1 "
                          f"(0.8 warns at 80%), got {share!r}")
    for name in ("up_after_seconds", "verify_within_seconds"):
        if not _number(found[name]) or found[name] <= 0:
            raise InvalidRaci(f"deadlines.{name}", f"a positive number of seconds, got "
                              f"{found[name]!r}")
    roles = found["up_roles"]
    if not isinstance(roles, list) or any(not isinstance(r, str) or not r.strip() for r in roles):
        raise InvalidRaci("deadlines.up_roles", "list organisation role names, e.g. "
                          "[战区负责人, 运营总监]")
    check_time_zone(found["time_zone"], "deadlines.time_zone")
    return {"warn_at": float(share), "up_after_seconds": float(found["up_after_seconds"]),
            "up_roles": [r.strip() for r in roles],
            "verify_within_seconds": float(found["verify_within_seconds"]),
            "time_zone": found["time_zone"], "stages": _stages(found["stages"])}


def _stages(raw: Any) -> dict[str, dict[str, float]]:
    field = "deadlines.stages"
    if not isinstance(raw, dict):
        raise InvalidRaci(field, "map severities to {planning, executing, verifying: seconds}")
    stages: dict[str, dict[str, float]] = {}
    for severity, boxes in raw.items():
        if severity not in Severity.__members__.values():
            raise InvalidRaci(f"{field}.{severity}", f"not a severity; use one of "
                              f"{', '.join(Severity)}")
        if not isinstance(boxes, dict) or set(boxes) - set(Stage):
            raise InvalidRaci(f"{field}.{severity}", f"time boxes are "
                              f"{', '.join(Stage)} (seconds)")
        for stage, seconds in boxes.items():
            if not _number(seconds) or seconds <= 0:
                raise InvalidRaci(f"{field}.{severity}.{stage}", f"a positive number of "
                                  f"seconds, got {seconds!r}")
        stages[severity] = {str(s): float(boxes[s]) for s in Stage if s in boxes}
    return dict(sorted(stages.items()))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


class InvalidRaci(Invalid):
    """The RACI rules break a rule (HTTP 422 naming the field)."""
