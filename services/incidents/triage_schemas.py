"""What the triage reads return: an incident's alerts, and a storm incident's counts."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.incidents.domain import Severity


class StormRead(BaseModel):
    alerts: int = Field(description="alerts gathered under the storm so far")
    entities: int = Field(description="distinct entities those alerts are on")
    threshold: int = Field(description="more than this many new incidents in the window "
                                       "started the storm")
    window_seconds: float
    started_at: datetime
    ended_at: datetime | None = Field(None, description="when the rate fell back (None: "
                                                        "still gathering)")


class IncidentAlert(BaseModel):
    alert_id: str
    name: str | None = None
    fingerprint: str
    entity: str
    severity: Severity
    labels: dict[str, str] = {}
    value: float | None = None
    at: datetime = Field(description="when it joined the incident")
    cleared_at: datetime | None = None
