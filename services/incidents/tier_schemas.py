"""What clients send and read for support tiers: a hand-over with its package, a score."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.limits import LongText, Name


class HandoverPackage(BaseModel):
    """交接标准. Each field is checked by the incident, which names the one missing (422)."""

    logs: list[LongText] | None = Field(None, description="links to logs, screenshots, traces "
                                        "(at least one)")
    reproduction: LongText | None = Field(None, description="steps to reproduce")
    impact: LongText | None = Field(None, description="who and what it affects")


class HandoverCreate(BaseModel):
    by: Name = Field(description="who hands it over")
    package: HandoverPackage = Field(default_factory=HandoverPackage)
    note: LongText = ""


class SupportState(BaseModel):
    tier: str | None = Field(None, description="the support tier it is in, e.g. L1")
    next_tier: str | None = Field(None, description="where a hand-over takes it; none at the "
                                  "last tier")
    handovers: int = 0
    score: dict | None = Field(None, description="the requester's score (1–5), comment, by, at")


class ScoreCreate(BaseModel):
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")
    comment: LongText = ""


class ScoreLinkRead(BaseModel):
    incident: dict
    person: str = Field(description="the requester the link was sent to")
    expires_at: datetime
    used_at: datetime | None = None
    score: dict | None = Field(None, description="POST: the score recorded")
