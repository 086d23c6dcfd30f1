"""The reports' figures shaped for the page: MTTA/MTTR per severity and the CAPA KPIs, one
value per bucket (None where nothing was counted, which ECharts draws as a gap)."""
from __future__ import annotations

from datetime import date
from typing import Any

SEVERITIES = ("P0", "P1", "P2", "P3")
CAPA_RATES = ("on_time_rate", "verification_first_pass_rate", "effectiveness_pass_rate",
              "recurrence_rate")


def _round(value: float | None, unit: float) -> float | None:
    return None if value is None else round(value / unit, 1)


def response_series(points: list[dict[str, Any]], starts: list[date]) -> dict[str, Any]:
    """MTTA in minutes and MTTR in hours, per severity and bucket."""
    at = {(p["bucket"], p["severity"]): p for p in points}
    days = [d.isoformat() for d in starts]

    def series(field: str, unit: float) -> dict[str, list[float | None]]:
        return {s: [_round(at[(d, s)][field], unit) if (d, s) in at else None for d in days]
                for s in SEVERITIES}

    return {"buckets": days, "mtta": series("mtta_seconds", 60),
            "mttr": series("mttr_seconds", 3600)}


def capa_series(reports: list[dict[str, Any] | None], starts: list[date]) -> dict[str, Any]:
    """The CAPA KPIs of each bucket (a report per bucket; None where capa did not answer):
    rates in percent, open and overdue actions at the bucket's end, hours to closure."""
    overall = [(r or {}).get("overall", {}) for r in reports]

    def values(name: str, scale: float = 1.0) -> list[float | None]:
        found = [o.get(name, {}).get("value") for o in overall]
        return [None if v is None else round(v * scale, 1) for v in found]

    return {"buckets": [d.isoformat() for d in starts],
            "rates": {name: values(name, 100) for name in CAPA_RATES},
            "open_actions": values("open_actions"),
            "open_actions_overdue": values("open_actions_overdue"),
            "hours_to_closure": values("mean_time_to_closure_hours")}


def duration(seconds: float | None, lang: str) -> str:
    """A duration as the self-check table prints it: 1h 5m / 1小时5分."""
    if seconds is None:
        return "—"
    total = int(round(seconds))
    d, rest = divmod(total, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    units = (("天", "d"), ("小时", "h"), ("分", "m"), ("秒", "s"))
    parts = [(n, u) for n, u in zip((d, h, m, s), units) if n][:2] or [(0, units[3])]
    zh = lang == "zh"
    return ("" if zh else " ").join(f"{n}{u[0] if zh else u[1]}" for n, u in parts)


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"
