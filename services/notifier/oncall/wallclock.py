"""Wall-clock time in a schedule's zone. Hand-offs and restriction windows are written as
what the local clock reads; this module turns such a reading into an instant and back."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = timezone.utc
SECOND = timedelta(seconds=1)


def reading(at: datetime, zone: ZoneInfo) -> datetime:
    """What the zone's clocks read at the instant `at` (naive)."""
    return at.astimezone(zone).replace(tzinfo=None)


@lru_cache(maxsize=65536)
def instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant at which the zone's clocks read `wall` or later (UTC).

    A reading that happens twice (clocks set back) means its first occurrence; one that never
    happens (clocks set forward over it) means the moment of the jump, when the clocks pass it.
    """
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if reading(first, zone) == wall:
        return first  # fold=0 is the earlier of two occurrences
    # In a gap: fold=1 uses the offset after the jump and lands before it, fold=0 after it.
    early = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = 0, int((first - early) / SECOND)  # zone transitions fall on whole seconds
    while high - low > 1:
        middle = (low + high) // 2
        if reading(early + middle * SECOND, zone) >= wall:
            high = middle
        else:
            low = middle
    return early + high * SECOND
