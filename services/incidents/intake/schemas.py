"""What clients send to manual intake and read back: the proposal, the correction, the
intake part of an incident."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, Field, UrlConstraints

from shared.limits import LongText, Name, Title
from shared.contracts.vocabulary import Severity

from services.incidents.intake.vocabulary import Source

ProblemTypeId = Annotated[str, Field(max_length=64, description=(
    "a problem type of the catalogue (GET /v1/intake/problem-types), e.g. supplier_delay"))]
Link = Annotated[AnyHttpUrl, UrlConstraints(max_length=2048, allowed_schemes=["http", "https"])]


class ProposalAsk(BaseModel):
    title: Title | None = None
    description: LongText = ""
    summary: LongText = ""


class Guess(BaseModel):
    method: str = Field(description='"rules" (configured keywords) or "model" (learned)')
    problem_type: str | None
    confidence: float = Field(ge=0, le=1)
    reasons: list[str]


class Proposal(BaseModel):
    problem_type: str | None = Field(description="the proposed type; null when nothing matched")
    confidence: float = Field(ge=0, le=1)
    method: str = Field(description='"rules" or "model": which one the proposal comes from')
    reasons: list[str] = Field(description="matched keywords and patterns, or the model's top features")
    severity: Severity
    severity_confidence: float = Field(ge=0, le=1)
    severity_reasons: list[str]
    candidates: list[Guess] = Field(description="each method's own answer")


class ClassificationCorrect(BaseModel):
    problem_type: ProblemTypeId | None = Field(None, description="the right type (omit: unchanged)")
    severity: Severity | None = Field(None, description="the right severity, P0–P3 (omit: unchanged)")
    reason: LongText = Field(min_length=1, description="why the classification was wrong")
    by: Name = Field(description="who corrects it")


class IntakeRead(BaseModel):
    source: Source | None = None
    problem_type: str | None = None
    description: str = ""
    attachments: list[str] = []
    proposal: Proposal | None = None
    labelled: bool = Field(False, description="a person gave or corrected the problem type")
    corrected: list[str] = Field([], description=(
        "what the reporter gave unlike the proposal: problem_type, severity"))
    corrections: int = 0


class ProblemTypeRead(BaseModel):
    id: str
    name_zh: str
    name_en: str
    severity: Severity


class ModelStatus(BaseModel):
    trained: bool
    examples: int
    types: dict[str, int]
    trained_at: datetime | None = None
    reason: str
