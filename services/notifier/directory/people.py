"""A person of the organisation: named by a stable handle that RACI entries, schedules and
ladders hold; a display name, a language, a time zone, working hours and contacts. A person
who leaves is marked left, never deleted: history keeps naming them."""
from __future__ import annotations

import re
from datetime import datetime, time
from enum import StrEnum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from services.notifier.directory.errors import InvalidPerson, InvertedHours, UnknownTimeZone
from shared.limits import NAME

HANDLE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,}$")
PERSON_FIELDS = ("handle", "name", "language", "time_zone", "working_hours", "contacts")


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class Medium(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    SMS = "sms"
    CHAT = "chat"


def check_time_zone(name: str, field: str = "time_zone") -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(field, f"{name!r} is not an IANA time zone; use a name such "
                              "as Asia/Shanghai or Europe/Berlin") from None


def clock_time(text: Any, field: str) -> time:
    if isinstance(text, str) and re.fullmatch(r"\d\d:\d\d", text):
        try:
            return time.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidPerson(field, f"{text!r} is not a time of day; write HH:MM, e.g. 09:00")


class Person(Aggregate):
    @staticmethod
    def create_id(handle: str) -> UUID:
        return key_id(f"person:{handle}")

    @classmethod
    def join(cls, *, definition: dict[str, Any], at: datetime, actor: str,
             cause: Cause) -> "Person":
        return cls(**cls.normalised(**definition), at=at, actor=actor, cause=cause)

    @classmethod
    def normalised(cls, *, handle: str, name: str, language: str = "zh",
                   time_zone: str = "Asia/Shanghai", working_hours: dict | None = None,
                   contacts: list[dict] | None = None) -> dict[str, Any]:
        """The definition as stored and compared: days in week order, every contact with a
        channel (None when it has none)."""
        check_handle(handle)
        if not name.strip():
            raise InvalidPerson("name", "a person needs a display name")
        if language not in Language.__members__.values():
            raise InvalidPerson("language", f"{language!r} is not one of {', '.join(Language)}")
        check_time_zone(time_zone)
        return {"handle": handle, "name": name.strip(), "language": str(language),
                "time_zone": time_zone, "working_hours": normalised_hours(working_hours),
                "contacts": normalised_contacts(contacts or [])}

    @event("Joined")
    def __init__(self, handle: str, name: str, language: str, time_zone: str,
                 working_hours: dict | None, contacts: list[dict], at: datetime, actor: str,
                 cause: Cause) -> None:
        self.handle, self.name, self.language = handle, name, language
        self.time_zone, self.working_hours, self.contacts = time_zone, working_hours, contacts
        self.left, self.left_at, self.left_why = False, None, None
        self.joined_at, self.updated_at, self.updated_by = at, at, actor

    @property
    def definition(self) -> dict[str, Any]:
        return {"handle": self.handle, "name": self.name, "language": self.language,
                "time_zone": self.time_zone, "working_hours": self.working_hours,
                "contacts": [dict(c) for c in self.contacts]}

    # -- commands -------------------------------------------------------------------------
    def revise(self, changes: dict[str, Any], at: datetime, actor: str, cause: Cause) -> bool:
        """Apply the given fields over the current definition; False when nothing changes.
        The handle never changes: it is the person's id."""
        if "handle" in changes and changes["handle"] != self.handle:
            raise InvalidPerson("handle", "a handle never changes; add a new person instead")
        revised = self.normalised(**{**self.definition, **changes})
        if revised == self.definition:
            return False
        self._revise(**{k: v for k, v in revised.items() if k != "handle"}, at=at, actor=actor,
                     cause=cause)
        return True

    def leave(self, why: str, at: datetime, actor: str, cause: Cause) -> bool:
        if self.left:
            return False
        self._leave(why=why, at=at, actor=actor, cause=cause)
        return True

    def come_back(self, at: datetime, actor: str, cause: Cause) -> bool:
        if not self.left:
            return False
        self._come_back(at=at, actor=actor, cause=cause)
        return True

    # -- events ---------------------------------------------------------------------------
    @event("Revised")
    def _revise(self, name: str, language: str, time_zone: str, working_hours: dict | None,
                contacts: list[dict], at: datetime, actor: str, cause: Cause) -> None:
        self.name, self.language, self.time_zone = name, language, time_zone
        self.working_hours, self.contacts = working_hours, contacts
        self.updated_at, self.updated_by = at, actor

    @event("Left")
    def _leave(self, why: str, at: datetime, actor: str, cause: Cause) -> None:
        self.left, self.left_at, self.left_why = True, at, why
        self.updated_at, self.updated_by = at, actor

    @event("CameBack")
    def _come_back(self, at: datetime, actor: str, cause: Cause) -> None:
        self.left, self.left_at, self.left_why = False, None, None
        self.updated_at, self.updated_by = at, actor


def check_handle(handle: str, field: str = "handle") -> None:
    if not HANDLE.match(handle) or len(handle) > NAME:
        raise InvalidPerson(field, f"{handle!r} is not a handle: use lower-case letters, "
                            "digits, '.', '_' or '-' (e.g. li.na)")


def normalised_hours(hours: dict | None) -> dict | None:
    if hours is None:
        return None
    days = list(hours.get("days") or [])
    unknown = [d for d in days if d not in DAYS]
    if unknown or not days or len(set(days)) != len(days):
        raise InvalidPerson("working_hours.days", "list each working day once, from "
                            f"{', '.join(DAYS)}; got {days}")
    start = clock_time(hours.get("start", ""), "working_hours.start")
    end = clock_time(hours.get("end", ""), "working_hours.end")
    if end <= start:
        raise InvertedHours("working_hours.end", f"{hours['end']} is not after "
                            f"{hours['start']}: working hours end later the same day")
    return {"days": [d for d in DAYS if d in days], "start": hours["start"], "end": hours["end"]}


def normalised_contacts(contacts: list[dict]) -> list[dict]:
    result = []
    for n, contact in enumerate(contacts):
        field = f"contacts[{n}]"
        medium, address = contact.get("medium"), str(contact.get("address") or "").strip()
        if medium not in Medium.__members__.values():
            raise InvalidPerson(f"{field}.medium", f"{medium!r} is not one of {', '.join(Medium)}")
        if not address:
            raise InvalidPerson(f"{field}.address", "give the address this medium reaches")
        if medium == Medium.EMAIL and "@" not in address:
            raise InvalidPerson(f"{field}.address", f"{address!r} is not an e-mail address")
        if medium == Medium.SMS and not PHONE.match(address):
            raise InvalidPerson(f"{field}.address", f"{address!r} is not a phone number; "
                                "write digits with an optional leading +")
        entry = {"medium": str(medium), "address": address, "channel": contact.get("channel")}
        if any((c["medium"], c["address"]) == (entry["medium"], address) for c in result):
            raise InvalidPerson(field, f"{medium} {address} is listed twice")
        result.append(entry)
    return result
