"""Per-contact rate limits (GoAlert's rule: a person is sent at most a few SMS or calls per
15 minutes): CLOSEDLOOP_NOTIFIER_CONTACT_LIMITS, e.g. "sms=3/15m,email=20/15m". A message
over the limit is held back until the limit has room; the first message sent then carries
every one held back meanwhile (the overflow folded into one message), and those are given
up as told. The clock is the caller's: decisions take `at`.

Kept in the worker's memory, per replica: a restarted worker forgets the window, and
messages held back then are each sent on their own when due (never lost, only not folded).
Decisions are idempotent per delivery, so a claim tried again after a conflict is not
counted twice."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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


@dataclass
class _Contact:
    sent: dict[str, datetime] = field(default_factory=dict)  # delivery id -> first sent
    held: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> what it says
    carried: dict[str, tuple[dict[str, str], ...]] = field(default_factory=dict)


class ContactLimits:
    def __init__(self, limits: dict[str, Limit]) -> None:
        self.limits = limits
        self._contacts: dict[tuple[str, str], _Contact] = {}
        self._folded_into: dict[str, str] = {}
        self._lock = threading.Lock()  # claims run in worker threads

    def limit_for(self, medium: str) -> Limit | None:
        return self.limits.get(medium)

    def decide(self, medium: str, address: str, delivery_id: str, summary: dict[str, str],
               at: datetime) -> Decision:
        limit = self.limits.get(medium)
        if limit is None:
            return Decision()
        with self._lock:
            if delivery_id in self._folded_into:
                return Decision(into=self._folded_into[delivery_id])
            contact = self._contacts.setdefault((medium, address), _Contact())
            if delivery_id in contact.sent:  # a retry, or the same claim tried again
                return Decision(carries=contact.carried.get(delivery_id, ()))
            contact.sent = {d: t for d, t in contact.sent.items() if t > at - limit.window}
            contact.carried = {d: c for d, c in contact.carried.items() if d in contact.sent}
            if len(contact.sent) >= limit.count:
                contact.held[delivery_id] = summary
                return Decision(until=min(contact.sent.values()) + limit.window)
            carries = tuple({**s, "id": d} for d, s in contact.held.items() if d != delivery_id)
            for held in carries:
                self._folded_into[held["id"]] = delivery_id
            contact.held.clear()
            contact.sent[delivery_id] = at
            if carries:
                contact.carried[delivery_id] = carries
            return Decision(carries=carries)

    def forget_folded(self, delivery_id: str) -> None:
        """A folded delivery has recorded that it was folded: nothing more to remember."""
        with self._lock:
            self._folded_into.pop(delivery_id, None)
