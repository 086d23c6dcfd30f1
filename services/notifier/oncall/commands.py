"""Schedule commands and queries of the notifier application: define, revise and delete
schedules, add and remove overrides (get → call → save, time from the injected clock), and
answer who is on call. Escalation steps ask `who_is_on_call(name, at)`."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from services.notifier.oncall.aggregate import Schedule, ScheduleExists, ScheduleNotFound
from services.notifier.oncall.model import Answer, InvalidSchedule, OnCall, Plan, Shift
from services.notifier.oncall.resolve import explain, shifts
from shared.store import IntegrityError

MAX_RANGE = timedelta(days=400)


class Schedules:
    """Mixed into NotifierApplication (get_or_none, save, clock)."""

    _plans: dict[UUID, tuple[int, Plan]]
    _plans_lock = threading.Lock()

    # -- commands -------------------------------------------------------------------------
    def define_schedule(self, definition: dict[str, Any], *, actor: str, cause: dict) -> dict:
        name = definition.get("name")
        existing = self.get_or_none(Schedule.create_id(name)) if isinstance(name, str) else None
        at = self.clock.now()
        if existing is None:
            schedule = Schedule.define(definition=definition, at=at, actor=actor, cause=cause)
        else:
            existing.restore(definition, at, actor, cause)
            schedule = existing
        try:
            self.save(schedule)
        except IntegrityError:  # defined by someone else in the meantime
            raise ScheduleExists(f"schedule {name!r} already exists; names are unique") from None
        return schedule_view(schedule)

    def revise_schedule(self, name: str, definition: dict[str, Any], *, actor: str,
                        cause: dict) -> dict:
        schedule = self._live_schedule(name)
        schedule.revise(definition, self.clock.now(), actor, cause)
        self.save(schedule)
        return schedule_view(schedule)

    def delete_schedule(self, name: str, *, actor: str, cause: dict) -> None:
        schedule = self._live_schedule(name)
        schedule.delete(self.clock.now(), actor, cause)
        self.save(schedule)

    def add_override(self, name: str, override: dict[str, Any], *, actor: str, cause: dict) -> dict:
        schedule = self._live_schedule(name)
        added = schedule.add_override({**override, "id": str(uuid4())}, self.clock.now(), actor, cause)
        self.save(schedule)
        return added

    def remove_override(self, name: str, override_id: str, *, actor: str, cause: dict) -> None:
        schedule = self._live_schedule(name)
        schedule.remove_override(override_id, self.clock.now(), actor, cause)
        self.save(schedule)

    # -- queries --------------------------------------------------------------------------
    def schedule(self, name: str) -> dict:
        return schedule_view(self._live_schedule(name))

    def schedule_plan(self, name: str) -> Plan:
        """The engine's view of a schedule. It is parsed once per stored version: a lookup
        asks the store only for the latest version number while nothing changes."""
        schedule_id = Schedule.create_id(name)
        version = self.reads.latest_versions([schedule_id]).get(schedule_id)
        with self._plans_lock:
            cache = self.__dict__.setdefault("_plans", {})
            cached = cache.get(schedule_id)
        if cached is None or cached[0] != version:
            schedule = self._live_schedule(name)
            cached = (schedule.version, schedule.plan())
            with self._plans_lock:
                cache[schedule_id] = cached
        return cached[1]

    def who_is_on_call(self, name: str, at: datetime | None = None) -> list[str]:
        """The handles on call in schedule `name` at `at` (now by default), overrides applied."""
        return [p.handle for p in self.explain_on_call(name, at).on_call]

    def explain_on_call(self, name: str, at: datetime | None = None) -> Answer:
        return explain(self.schedule_plan(name), at or self.clock.now())

    def schedule_shifts(self, name: str, start: datetime | None = None,
                        end: datetime | None = None) -> list[Shift]:
        start = start or self.clock.now()
        end = end or start + timedelta(days=7)
        if end - start > MAX_RANGE:
            raise InvalidSchedule("end", f"ask for at most {MAX_RANGE.days} days at a time")
        return shifts(self.schedule_plan(name), start, end)

    def _live_schedule(self, name: str) -> Schedule:
        found = self.get_or_none(Schedule.create_id(name))
        if not isinstance(found, Schedule) or found.deleted:
            raise ScheduleNotFound(f"schedule {name!r} does not exist")
        return found


def schedule_view(schedule: Schedule) -> dict:
    return {"id": schedule.id, **schedule.definition, "overrides": list(schedule.overrides),
            "created_at": schedule.created_at, "created_by": schedule.created_by,
            "updated_at": schedule.updated_at, "updated_by": schedule.updated_by}


def on_call_view(person: OnCall) -> dict:
    return {"handle": person.handle, "source": source_view(person.source),
            "why": person.source.describe(), "since": person.since, "until": person.until}


def source_view(source: Any) -> dict:
    return {"kind": source.kind, "name": source.name, "override": source.override,
            "replaces": source.replaces}


def shift_view(shift: Shift) -> dict:
    return {"start": shift.start, "end": shift.end, "handle": shift.handle,
            "source": source_view(shift.source), "why": shift.source.describe()}
