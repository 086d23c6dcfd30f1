"""API vocabulary of the knowledge base: what clients send and what they get back."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.limits import ITEMS, LongText, Name, Title


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class KnowledgeCreate(_Body):
    by: Name
    capa_id: UUID = Field(description="a closed CAPA case; what is not given is prefilled "
                                      "from it")
    symptom: LongText = Field(description="what was seen, in the words a responder searches")
    investigation: list[LongText] = Field(default_factory=list, max_length=ITEMS,
                                          description="steps; default: the root cause's whys")
    fix: LongText = Field("", description="default: the corrective actions")
    prevention: LongText = Field("", description="default: the preventive actions")
    tags: list[Title] = Field(default_factory=list, max_length=ITEMS)
    root_cause: LongText = Field("", description="default: the case's root cause")
    category: Title | None = Field(None, description="problem type; default: the fishbone "
                                                     "category of the root cause")
    review_by: date | None = Field(None, description="知识评审 date; default: 180 days on")


class KnowledgeUpdate(_Body):
    by: Name
    symptom: LongText | None = None
    investigation: list[LongText] | None = Field(None, max_length=ITEMS)
    fix: LongText | None = None
    prevention: LongText | None = None
    tags: list[Title] | None = Field(None, max_length=ITEMS)
    root_cause: LongText | None = None
    category: Title | None = None
    review_by: date | None = None


class Feedback(_Body):
    by: Name
    useful: bool = Field(description="did this entry help with this incident?")


class KnowledgeRead(BaseModel):
    id: UUID
    capa_id: str
    incident_id: str
    ref: str
    title: str
    entity: str
    rule: str | None
    labels: dict[str, str]
    symptom: str
    investigation: list[str]
    fix: str
    prevention: str
    tags: list[str]
    root_cause: str
    category: str | None
    review_by: date
    stale: bool = Field(description="the review date has passed: re-read and re-date it")
    useful: int
    not_useful: int
    author: str
    created_at: datetime
    updated_at: datetime


class KnowledgeSummary(BaseModel):
    id: UUID
    ref: str
    title: str
    symptom: str
    fix: str
    prevention: str
    tags: list[str]
    category: str | None
    review_by: date
    stale: bool
    score: float | None = Field(None, description="text similarity, when searching")
    matched: list[str] = Field(default_factory=list, description="search terms it shares")


class KnowledgePage(BaseModel):
    items: list[KnowledgeSummary]
    total: int


class Match(BaseModel):
    field: str = Field(description="text, rule, entity, category or labels")
    value: str
    score: float = Field(description="its share of the recommendation's score")
    similarity: float | None = None


class Recommendation(BaseModel):
    entry: KnowledgeSummary
    score: float
    matched: list[Match]
    feedback: dict[str, Any]


class Recommendations(BaseModel):
    incident_id: str
    items: list[Recommendation]
