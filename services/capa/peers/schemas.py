"""API vocabulary of 举一反三: the peers at risk and the request to plan their actions."""
from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from services.capa.schemas import ActionRead, _Body
from shared.limits import ITEMS, LongText, Name, Title


class AtRiskRead(BaseModel):
    entity: str
    shared: dict[str, str] = Field(description="the class labels it shares with the case's entity")
    reasons: list[str] = Field(description="why it matched, the shared labels first")
    last_seen: datetime | None
    action_id: str | None = Field(description="the preventive action planned for it, if any")


class AtRiskPage(BaseModel):
    capa_id: UUID
    entity: str
    rule: str | None = Field(description="the rule (or alert name) of the case's incident")
    category: str | None = Field(description="the root cause's category (人机料法环测)")
    class_labels: dict[str, str] = Field(description="the case entity's labels peers are "
                                                     "matched on")
    since: datetime = Field(description="signals older than this do not count")
    items: list[AtRiskRead]


class SpreadCreate(_Body):
    by: Name
    entities: list[Name] | None = Field(None, max_length=ITEMS,
                                        description="which peers at risk; all of them if absent")
    owner: Name | None = Field(None, description="the owner of every action, unless `owners` "
                                                 "names another for an entity")
    owners: dict[str, Name] = Field(default_factory=dict, max_length=ITEMS,
                                    description="entity → the owner of its action")
    verifier: Name = Field(description="who verifies the actions (never their owner)")
    due_date: date
    title: Title = Field("举一反三 {ref}: check {entity} for “{root_cause}”",
                         description="a template: {entity}, {root_cause}, {ref}")
    acceptance_criteria: LongText = Field(
        "{entity} is shown free of the cause of {ref}: {root_cause}",
        description="a template: {entity}, {root_cause}, {ref}")


class SkippedRead(BaseModel):
    entity: str
    action_id: str = Field(description="the action it already has")


class SpreadRead(BaseModel):
    capa_id: UUID
    planned: list[ActionRead]
    skipped: list[SkippedRead]
