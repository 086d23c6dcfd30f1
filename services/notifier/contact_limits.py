"""Per-contact rate limits (GoAlert's rule: a person is sent at most a few SMS or calls per
15 minutes): CLOSEDLOOP_NOTIFIER_CONTACT_LIMITS, e.g. "sms=3/15m,email=20/15m". A message
over the limit is held back until the limit has room; the first message sent then carries
every one held back meanwhile (the overflow folded into one message), and those are given
up as told. The clock is the caller's: decisions take `at`.

Kept in the event store's database (contact_ledger.py) when the notifier has one: every
replica counts the same window, and what was held back before a restart is still folded
after it. Decisions are idempotent per delivery, so a claim tried again after a conflict,
or by another replica, is not counted twice."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.notifier.contact_ledger import MemoryLedger, TableLedger

SETTING = "CLOSEDLOOP_NOTIFIER_CONTACT_LIMITS"
DEFAULT = "sms=3/15m,email=20/15m"
ENTRY = re.compile(r"^(?P<medium>[a-z]+)=(?P<count>\d+)/(?P<size>\d+)(?P<unit>[smh])$")
UNITS = {"s": 1, "m": 60, "h": 3600}
MEDIA = ("sms", "email", "chat", "webhook")


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta

    def __str__(self) -> str:
        return f"{self.count} per {int(self.window.total_seconds() // 60)} min"


def parse_limits(text: str) -> dict[str, Limit]:
    """Refuse a bad entry naming it and the fix (at start-up)."""
    limits: dict[str, Limit] = {}
    for entry in filter(None, (part.strip() for part in (text or "").split(","))):
        found = ENTRY.match(entry)
        if not found or found["medium"] not in MEDIA or int(found["count"]) < 1 \
                or int(found["size"]) < 1:
            raise ValueError(f"{SETTING}: {entry!r} is not <medium>=<count>/<window> with a "
                             f"medium of {', '.join(MEDIA)}, a count of at least 1 and a "
                             "window such as 15m, 1h or 90s (e.g. sms=3/15m)")
        seconds = int(found["size"]) * UNITS[found["unit"]]
        limits[found["medium"]] = Limit(int(found["count"]), timedelta(seconds=seconds))
    return limits


@dataclass(frozen=True)
class Decision:
    until: datetime | None = None  # held back until then
    into: str | None = None  # already told inside this delivery
    carries: tuple[dict[str, str], ...] = ()  # send now, telling these held-back ones too

    @property
    def send(self) -> bool:
        return self.until is None and self.into is None


class ContactLimits:
    def __init__(self, limits: dict[str, Limit]) -> None:
        self.limits = limits
        self._ledger: MemoryLedger | TableLedger = MemoryLedger()

    def keep_in(self, datastore: Any) -> None:
        """Count in the event store's database (None: the in-memory store; stay in memory)."""
        if datastore is not None:
            self._ledger = TableLedger(datastore)

    def limit_for(self, medium: str) -> Limit | None:
        return self.limits.get(medium)

    def decide(self, medium: str, address: str, delivery_id: str, summary: dict[str, str],
               at: datetime) -> Decision:
        limit = self.limits.get(medium)
        if limit is None:
            return Decision()
        with self._ledger.contact(medium, address, at) as contact:
            if delivery_id in contact.folded_into:
                return Decision(into=contact.folded_into[delivery_id])
            if delivery_id in contact.sent:  # a retry, or the same claim tried again
                return Decision(carries=contact.carried.get(delivery_id, ()))
            contact.sent = {d: t for d, t in contact.sent.items() if t > at - limit.window}
            contact.carried = {d: c for d, c in contact.carried.items() if d in contact.sent}
            if len(contact.sent) >= limit.count:
                contact.held[delivery_id] = summary
                contact.held_at.setdefault(delivery_id, at)
                return Decision(until=min(contact.sent.values()) + limit.window)
            carries = tuple({**s, "id": d} for d, s in contact.held.items() if d != delivery_id)
            for held in carries:
                contact.folded_into[held["id"]] = delivery_id
            contact.held.clear()
            contact.held_at = {d: t for d, t in contact.held_at.items()
                               if d in contact.folded_into}
            contact.sent[delivery_id] = at
            if carries:
                contact.carried[delivery_id] = carries
            return Decision(carries=carries)

    def forget_folded(self, medium: str, address: str, delivery_id: str) -> None:
        """A folded delivery has recorded that it was folded: nothing more to remember."""
        self._ledger.forget_folded(medium, address, delivery_id)
