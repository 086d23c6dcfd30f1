"""The incident's vocabulary: severities with their SLAs, and the status flow
新建 → 调查中 → 方案制定中 → 执行中 → 验证中 → 已闭环 → 已归档; a self-fixed incident goes
from 调查中 to 观察中 (observing) instead, and closes from there (closing.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from shared.contracts.vocabulary import Severity


@dataclass(frozen=True)
class Sla:
    respond: timedelta
    resolve: timedelta


SLA: dict[Severity, Sla] = {
    Severity.P0: Sla(respond=timedelta(minutes=5), resolve=timedelta(hours=4)),
    Severity.P1: Sla(respond=timedelta(minutes=15), resolve=timedelta(hours=24)),
    Severity.P2: Sla(respond=timedelta(hours=1), resolve=timedelta(hours=72)),
    Severity.P3: Sla(respond=timedelta(hours=4), resolve=timedelta(days=7)),
}


class RaciRole(StrEnum):
    """Who is responsible (does the work), accountable (answers for it), consulted, informed."""

    RESPONSIBLE = "responsible"
    ACCOUNTABLE = "accountable"
    CONSULTED = "consulted"
    INFORMED = "informed"

    @property
    def label(self) -> str:
        return {"responsible": "负责", "accountable": "批准", "consulted": "咨询",
                "informed": "知会"}[self.value]

    @property
    def single(self) -> bool:
        """One person is responsible and one accountable; many may be consulted or informed."""
        return self in (RaciRole.RESPONSIBLE, RaciRole.ACCOUNTABLE)


class Verdict(StrEnum):
    """What the alert behind an incident turned out to be; detector rule health counts these."""

    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"


class Status(StrEnum):
    NEW = "new"
    INVESTIGATING = "investigating"
    PLANNING = "planning"
    EXECUTING = "executing"
    VERIFYING = "verifying"
    OBSERVING = "observing"  # self-fixed: closes by itself when the alert stays clear
    CLOSED = "closed"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        return _LABELS[self]

    def at_least(self, other: "Status") -> "Status":
        """Statuses driven by other services only move forward, never back."""
        order = list(Status)
        return self if order.index(self) >= order.index(other) else other


_LABELS = {
    Status.NEW: "新建", Status.INVESTIGATING: "调查中", Status.PLANNING: "方案制定中",
    Status.EXECUTING: "执行中", Status.VERIFYING: "验证中", Status.OBSERVING: "观察中",
    Status.CLOSED: "已闭环",
    Status.ARCHIVED: "已归档",
}
