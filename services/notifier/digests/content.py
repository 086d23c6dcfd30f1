"""What a digest says, as data: the period on the recipient's clock, the incidents that fired
in it, those still open at its end, those resolved or closed in it, and the counts per unit.
Templates (messages/digest.py) and webhook receivers read the same document."""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.notifier.digests.aggregate import Digest, ItemStatus
from services.notifier.oncall.wallclock import reading

NO_UNIT = "-"


def digest_content(digest: Digest) -> dict[str, Any]:
    recipient = digest.recipient
    zone = ZoneInfo(recipient["time_zone"])
    items = sorted(digest.items.values(), key=lambda i: (i["severity"], i["opened_at"],
                                                         i["ref"]))
    fired = [i for i in items if i["fired"]]
    still_open = [i for i in items if i["status"] == ItemStatus.OPEN]
    closed = [i for i in items if i["status"] != ItemStatus.OPEN]
    units: dict[str, dict[str, Any]] = {}
    for section, listed in (("fired", fired), ("open", still_open), ("closed", closed)):
        for key, n in Counter(i.get("unit") or NO_UNIT for i in listed).items():
            name = next((i.get("unit_name") for i in listed if (i.get("unit") or NO_UNIT) == key),
                        None)
            unit = units.setdefault(key, {"unit": key, "name": name or key, "fired": 0,
                                          "open": 0, "closed": 0})
            unit[section] = n
    person = recipient.get("person") or {}
    end = local(digest.period_end, zone)
    return {
        "ref": f"{digest.every}-digest {end[:10]}",
        "every": digest.every,
        "recipient": {"key": recipient["key"], "handle": person.get("handle"),
                      "name": person.get("name") or recipient["channel_name"],
                      "channel_name": recipient["channel_name"]},
        "time_zone": zone.key,
        "period": {"start": local(digest.period_start, zone), "end": end,
                   "start_utc": digest.period_start.isoformat(),
                   "end_utc": digest.period_end.isoformat()},
        "fired": [shown(i, zone) for i in fired],
        "open": [shown(i, zone) for i in still_open],
        "closed": [shown(i, zone) for i in closed],
        "units": sorted(units.values(), key=lambda u: (u["unit"] == NO_UNIT, u["unit"])),
        "counts": {"fired": len(fired), "open": len(still_open), "closed": len(closed)},
    }


def local(at: datetime, zone: ZoneInfo) -> str:
    """A reading of the recipient's clock, to the minute (2026-11-03T09:00)."""
    return reading(at, zone).isoformat(timespec="minutes")


def shown(item: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    view = {k: item.get(k) for k in ("incident_id", "ref", "severity", "title", "entity",
                                     "unit", "unit_name", "status")}
    view["opened_at"] = local(datetime.fromisoformat(item["opened_at"]), zone)
    view["ended_at"] = (local(datetime.fromisoformat(item["ended_at"]), zone)
                        if item.get("ended_at") else None)
    return view
