"""What clients send to check a checklist item, and what they read back: the checklist with
each item's state, and a communication template rendered for the incident."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.limits import LongText, Name


class ItemCheck(BaseModel):
    by: Name = Field(description="who did it (a key bound to a person may only name them)")
    note: LongText = Field("", description="what was done, e.g. 已致电李娜，店内已启用备用收银机")


class Titles(BaseModel):
    zh: str
    en: str


class ChecklistItemRead(BaseModel):
    id: str
    step: int = Field(description="index of its step in `steps`")
    title: Titles
    role: str = Field(description="responder, or manager for a sign-off")
    due_at: datetime = Field(description="the incident's opening plus the step's time box")
    state: Literal["done", "open", "overdue"]
    checked_by: str | None = None
    checked_at: datetime | None = None
    note: str | None = None
    late: bool | None = Field(None, description="checked after its deadline")


class ChecklistStepRead(BaseModel):
    within_seconds: float
    title: Titles
    messages: list[str] = Field(description="communication templates for this step")


class ChecklistRead(BaseModel):
    incident: str
    incident_id: str
    name: str = Field(description="the template's name")
    severity: str
    type: str | None
    opened_at: datetime
    attached_at: datetime
    steps: list[ChecklistStepRead]
    items: list[ChecklistItemRead]
    counts: dict[str, int] = Field(description="items done, open and overdue")


class ChecklistMessageRead(BaseModel):
    incident: str
    name: str
    language: Literal["zh", "en"]
    audience: str = Field(description="whom it is written to, e.g. 店长")
    parts: dict[str, str] = Field(description="situation, complication, question, answer")
    text: str = Field(description="the parts in SCQA order, ready to copy")
