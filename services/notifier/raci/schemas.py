"""The RACI rules' API vocabulary, also the `raci` section of `closedloop directory apply`'s
file (the same shapes: what a file declares is what the API is sent)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.vocabulary import Severity
from shared.limits import ITEMS, NAME

Role = Annotated[str, StringConstraints(min_length=1, max_length=NAME)]
Roles = Annotated[list[Role], Field(max_length=ITEMS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RaciRow(Strict):
    """Organisation roles (as units hold them) for each letter; R and A need one at least."""

    responsible: Roles = Field(default_factory=list, examples=[["运营专家", "店长"]])
    accountable: Roles = Field(default_factory=list, examples=[["战区负责人"]])
    consulted: Roles = Field(default_factory=list)
    informed: Roles = Field(default_factory=list, examples=[["运营总监"]])


class StageBoxes(Strict):
    planning: float | None = Field(None, gt=0, description="seconds in 方案制定中")
    executing: float | None = Field(None, gt=0, description="seconds in 执行中")
    verifying: float | None = Field(None, gt=0, description="seconds in 验证中")


class DeadlineSettings(Strict):
    warn_at: float | None = Field(None, gt=0, lt=1, description="share of the time after "
                                  "which the Responsible is warned (default 0.8)")
    up_after_seconds: float | None = Field(None, gt=0, description="after the deadline, until "
                                           "the holders one level up are told (default 3600)")
    up_roles: Roles | None = Field(None, description="roles tried above the Accountable's unit "
                                   "when its own role is not held there", examples=[
                                       ["战区负责人", "运营总监"]])
    verify_within_seconds: float | None = Field(None, gt=0, description="from an action's "
                                                "completion to its verification (default 3 days)")
    time_zone: str | None = Field(None, max_length=NAME, description="where an action's due "
                                  "date ends (default Asia/Shanghai)")
    stages: dict[Severity, StageBoxes] | None = None


class RaciSpec(Strict):
    matrix: dict[Severity, RaciRow] = Field(examples=[{
        "P0": {"responsible": ["运营专家", "店长"], "accountable": ["战区负责人"],
               "informed": ["运营总监"]}}])
    deadlines: DeadlineSettings = Field(default_factory=DeadlineSettings)

    def as_rules(self) -> tuple[dict, dict]:
        """The matrix and the deadline settings given (unset settings take their defaults)."""
        deadlines = self.deadlines.model_dump(mode="json", exclude_none=True)
        if "stages" in deadlines:
            deadlines["stages"] = {s: {k: v for k, v in b.items() if v is not None}
                                   for s, b in deadlines["stages"].items()}
        return self.model_dump(mode="json")["matrix"], deadlines


class RaciRead(BaseModel):
    matrix: dict[str, dict[str, list[str]]]
    deadlines: dict
    updated_at: datetime | None
    updated_by: str | None


class StaffingRead(BaseModel):
    incident_id: str
    ref: str
    severity: str
    title: str
    entity: str
    unit: str | None = Field(description="the entity's unit (null: none)")
    responsible: list[str]
    accountable: list[str]
    consulted: list[str]
    informed: list[str]
    unresolved: list[str] = Field(description="'<letter> (<role>): why' for roles nobody holds")
    accountable_at: list[dict[str, str]] = Field(description="where each Accountable role was "
                                                 "held ({role, unit}): a chase goes up from there")
    staffed_at: datetime
    matrix: bool = Field(True, description="a matrix row staffed it (false: only people "
                         "given letters by hand, and it is not chased)")
    by_hand: dict[str, list[str]] = Field(default_factory=dict, description="letter → the "
                                          "people given it by hand: kept over the matrix "
                                          "when a severity change re-staffs it")


class DeadlineRead(BaseModel):
    id: str
    incident_id: str
    ref: str
    key: str
    kind: str
    subject: str | None
    status: str
    due_at: datetime
    next_phase: str | None
    next_at: datetime | None
    fired: list[str]
    met_why: str | None
    updated_at: datetime


class DeadlinePage(BaseModel):
    items: list[DeadlineRead]
    total: int
