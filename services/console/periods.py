"""The reports page's periods: a preset such as the last 12 weeks becomes buckets (weeks
from Monday, or months from the 1st) in the console's time zone, ending with the current one,
on the console's clock."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# preset: (bucket, how many)
PRESETS = {"4w": ("week", 4), "12w": ("week", 12), "6m": ("month", 6), "12m": ("month", 12)}
DEFAULT = "12w"


@dataclass(frozen=True)
class Buckets:
    preset: str
    bucket: str  # week or month, as the reports API names it
    starts: list[date]  # each bucket's first day, oldest first

    @property
    def first(self) -> date:
        return self.starts[0]

    def bounds(self, zone: ZoneInfo) -> list[tuple[datetime, datetime | None]]:
        """Each bucket as [start, end) at midnight in `zone`; the current one ends now
        (None: the API's own now)."""
        moments = [datetime.combine(d, time(), zone) for d in self.starts]
        return list(zip(moments, [*moments[1:], None]))


def buckets(preset: str, now: datetime, zone: ZoneInfo) -> Buckets:
    preset = preset if preset in PRESETS else DEFAULT
    bucket, count = PRESETS[preset]
    today = now.astimezone(zone).date()
    if bucket == "week":
        monday = today - timedelta(days=today.weekday())
        starts = [monday - timedelta(weeks=n) for n in range(count - 1, -1, -1)]
    else:
        starts = []
        year, month = today.year, today.month
        for _ in range(count):
            starts.insert(0, date(year, month, 1))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return Buckets(preset, bucket, starts)
