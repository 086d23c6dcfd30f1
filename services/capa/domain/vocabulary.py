"""The words of a CAPA case: statuses, analysis methods, the fishbone categories 人机料法环测,
and the root cause and action records the case keeps."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

MAX_WHYS = 5


class CaseStatus(StrEnum):
    OPEN = "open"  # analysis: root cause and actions
    EFFECTIVENESS = "effectiveness"  # every action verified; watching that the fix holds
    CLOSED = "closed"


class RcaMethod(StrEnum):
    FIVE_WHYS = "5whys"
    FISHBONE = "fishbone"


class Category(StrEnum):
    """The fishbone (Ishikawa) categories 人机料法环测."""

    MAN = "man"
    MACHINE = "machine"
    MATERIAL = "material"
    METHOD = "method"
    ENVIRONMENT = "environment"
    MEASUREMENT = "measurement"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @classmethod
    def _missing_(cls, value: object) -> "Category | None":
        # Accept the Chinese label as well: Category("环") is ENVIRONMENT.
        return next((c for c, label in _LABELS.items() if label == value), None)


_LABELS = {Category.MAN: "人", Category.MACHINE: "机", Category.MATERIAL: "料",
           Category.METHOD: "法", Category.ENVIRONMENT: "环", Category.MEASUREMENT: "测"}


class ActionKind(StrEnum):
    CORRECTIVE = "corrective"
    PREVENTIVE = "preventive"


class ActionStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    VERIFIED = "verified"


@dataclass
class RootCause:
    method: RcaMethod
    statement: str
    whys: list[str]
    category: Category | None
    contributing_factors: list[dict[str, str]]
    revision: int
    by: str
    at: datetime


@dataclass
class Action:
    id: str
    kind: ActionKind
    title: str
    owner: str
    due_date: date
    acceptance_criteria: str
    status: ActionStatus = ActionStatus.OPEN
    evidence: str | None = None
    completed_by: str | None = None
    completed_at: datetime | None = None
    verifier: str | None = None
    verified_at: datetime | None = None
    note: str | None = None  # the verifier's note (why it was reopened, or how it was checked)
    adverse_implications: str | None = None  # what the action might break, said when planned
    adverse_check: str | None = None  # how the verifier saw that it did not happen
    entity: str | None = None  # the peer a preventive action protects (举一反三)
    assigned_verifier: str | None = None  # who is to verify it, named when it was planned
