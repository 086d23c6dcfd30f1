"""SOP checklists as configuration: per severity, and optionally per incident type, the steps
an incident's people work through, each with a time box counted from the incident's opening
(15 min, 1 h, 4 h, 24 h, 3 d in the seed's P0 list), its items (zh and en titles) and the
communication templates (话术模板) a responder sends at that step. Read from a YAML or JSON file
(CLOSEDLOOP_CHECKLISTS_FILE) and checked at start-up, each error naming the file and the
field; without a file no incident carries a checklist."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.auth import Role
from shared.config_files import read_config
from shared.contracts.vocabulary import Severity

from services.incidents.checklist_messages import PARTS, compile_part, sample_context
from services.incidents.sla_policies import parse_duration

LANGUAGES = ("zh", "en")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class ChecklistConfigError(ValueError):
    """A checklist file that cannot be used; the message names the file and the field."""


class Titles(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class ItemSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="stable key: lower case, digits and _ (store_manager_called)")
    title: Titles
    # Who may check it: a responder by default; a manager for a sign-off such as a review.
    role: Role = Role.RESPONDER

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r} is not an item id: lower case letters, digits and _, "
                             "starting with a letter (store_manager_called)")
        return value

    @field_validator("role")
    @classmethod
    def _role(cls, value: Role) -> Role:
        if value not in (Role.RESPONDER, Role.MANAGER):
            raise ValueError("an item is checked by a responder or a manager")
        return value


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    within: Any = Field(description="time box from the opening: 15m, 1h, 4h, 24h, 3d")
    title: Titles
    items: list[ItemSpec] = Field(min_length=1)
    messages: list[str] = Field([], description="communication templates for this step")

    @field_validator("within")
    @classmethod
    def _within(cls, value: Any) -> timedelta:
        return parse_duration(value)


class TemplateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    severity: Severity
    type: str | None = Field(None, description="incident type (problem_type); none: any")
    steps: list[StepSpec] = Field(min_length=1)


class MessageSpec(BaseModel):
    """One 话术模板: Situation, Complication, Question, Answer in each language."""
    model_config = ConfigDict(extra="forbid")
    audience: Titles
    zh: dict[str, str]
    en: dict[str, str]

    @field_validator("zh", "en")
    @classmethod
    def _scqa(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [p for p in PARTS if not str(value.get(p) or "").strip()]
        if missing:
            raise ValueError(f"SCQA needs {', '.join(PARTS)}; missing {', '.join(missing)}")
        unknown = sorted(set(value) - set(PARTS))
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a part of SCQA "
                             f"({', '.join(PARTS)})")
        return value


class ChecklistFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_zone: str = Field("Asia/Shanghai", description="zone messages give times in")
    templates: list[TemplateSpec] = Field(min_length=1)
    messages: dict[str, MessageSpec] = {}

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Asia/Shanghai") \
                from None
        return value


@dataclass(frozen=True)
class Item:
    id: str
    step: int  # index of its step
    within: timedelta
    title: dict[str, str]
    role: str

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "step": self.step, "within_seconds": self.within.total_seconds(),
                "title": dict(self.title), "role": self.role}


@dataclass(frozen=True)
class Template:
    name: str
    severity: Severity
    type: str | None
    items: tuple[Item, ...]
    steps: tuple[dict[str, Any], ...]  # {within_seconds, title, messages}

    def view(self) -> dict[str, Any]:
        return {"name": self.name, "severity": str(self.severity), "type": self.type,
                "steps": [dict(s) for s in self.steps], "items": [i.view() for i in self.items]}


@dataclass(frozen=True)
class Message:
    name: str
    audience: dict[str, str]
    parts: dict[str, dict[str, Any]]  # language → part → compiled template


@dataclass
class ChecklistTemplates:
    templates: list[Template] = field(default_factory=list)
    messages: dict[str, Message] = field(default_factory=dict)
    time_zone: str = "Asia/Shanghai"
    source: str | None = None  # the file they came from; None: no checklists

    def template_for(self, severity: Severity | str,
                     incident_type: str | None = None) -> Template | None:
        """The type's own template, else the severity's general one, else none."""
        by_key = {(t.severity, t.type): t for t in self.templates}
        severity = Severity(severity)
        return by_key.get((severity, incident_type)) or by_key.get((severity, None))

    def view(self) -> dict[str, Any]:
        return {"source": self.source, "templates": [t.view() for t in self.templates],
                "messages": {n: {"audience": m.audience} for n, m in self.messages.items()}}


def load_checklists(path: str | Path | None) -> ChecklistTemplates:
    """The templates in a YAML or JSON file (none without one). Raises ChecklistConfigError
    naming the file and the field."""
    if not path:
        return ChecklistTemplates()
    path = Path(path)
    spec = read_config(path, ChecklistFile, "checklists", ChecklistConfigError)
    return _build(path, spec)


def _build(path: Path, spec: ChecklistFile) -> ChecklistTemplates:
    def fail(where: str, message: str) -> ChecklistConfigError:
        return ChecklistConfigError(f"checklists {path}: {where}: {message}")

    messages = {}
    for name, m in spec.messages.items():
        compiled: dict[str, dict[str, Any]] = {}
        for language in LANGUAGES:
            compiled[language] = {}
            for part in PARTS:
                try:
                    compiled[language][part] = compile_part(getattr(m, language)[part])
                except TemplateSyntaxError as e:
                    raise fail(f"messages.{name}.{language}.{part}",
                               f"line {e.lineno}: {e.message}") from None
                try:  # a misspelt variable is found now, not when a responder asks
                    compiled[language][part].render(sample_context(language))
                except Exception as e:  # noqa: BLE001 (any failure of the author's template)
                    raise fail(f"messages.{name}.{language}.{part}",
                               f"{type(e).__name__}: {e} (variables: "
                               f"{', '.join(sorted(sample_context(language)))})") from None
        messages[name] = Message(name, m.audience.model_dump(), compiled)
    templates, seen = [], set()
    for t_index, t in enumerate(spec.templates):
        if (t.severity, t.type) in seen:
            raise fail(f"templates.{t_index}", f"a second template for {t.severity}"
                       + (f" and type {t.type!r}" if t.type else ""))
        seen.add((t.severity, t.type))
        items, ids, steps = [], set(), []
        for s_index, step in enumerate(t.steps):
            where = f"templates.{t_index}.steps.{s_index}"
            if s_index and step.within <= t.steps[s_index - 1].within:
                raise fail(f"{where}.within", "steps run in order: each time box must be "
                           "longer than the one before")
            for name in step.messages:
                if name not in messages:
                    raise fail(f"{where}.messages", f"{name!r} is not defined under messages "
                               f"({', '.join(messages) or 'none'})")
            for i_index, item in enumerate(step.items):
                if item.id in ids:
                    raise fail(f"{where}.items.{i_index}.id",
                               f"{item.id!r} appears twice in the template")
                ids.add(item.id)
                items.append(Item(item.id, s_index, step.within, item.title.model_dump(),
                                  str(item.role)))
            steps.append({"within_seconds": step.within.total_seconds(),
                          "title": step.title.model_dump(), "messages": list(step.messages)})
        templates.append(Template(t.name, t.severity, t.type, tuple(items), tuple(steps)))
    return ChecklistTemplates(templates, messages, spec.time_zone, str(path))
