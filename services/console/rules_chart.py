"""A backtest's answer as an ECharts option: the replayed series (a line per entity), the
alerts the rule would have raised (pins on the line, at their start) and the labelled windows
(shaded areas). Built on the server, so the page only hands it to ECharts."""
from __future__ import annotations

from bisect import bisect_left
from typing import Any

WINDOW_SHADE = "rgba(46, 134, 193, 0.18)"
ALERT_RED = "#c0392b"


def value_at(points: list[list[float | None]], t: float) -> float | None:
    """The charted value nearest `t` (an alert's start), so its pin sits on the line."""
    if not points:
        return None
    times = [p[0] for p in points]
    i = bisect_left(times, t)
    near = [j for j in (i - 1, i) if 0 <= j < len(points)]
    return points[min(near, key=lambda j: abs(times[j] - t))][1]


def backtest_option(result: dict[str, Any], t) -> dict[str, Any]:
    """`result` is the detector's backtest answer asked with `points`; `t` translates."""
    series = result.get("series") or []
    by_entity = {s["entity"]: s["points"] for s in series}
    lines = [{"name": s["entity"], "type": "line", "showSymbol": False, "sampling": "lttb",
              "data": [[p[0] * 1000, p[1]] for p in s["points"]]} for s in series]
    alerts = [{"name": a["entity"], "value": [a["start"] * 1000,
                                             value_at(by_entity.get(a["entity"], []),
                                                      a["start"])],
               "summary": a.get("summary", "")}
              for a in result["replay"]["alerts"]]
    areas = [[{"name": w["entity"] or t("any_entity"), "xAxis": w["start"] * 1000},
              {"xAxis": w["end"] * 1000}] for w in result.get("labelled_windows", [])]
    marks = [
        {"name": t("alerts_raised"), "type": "scatter", "symbol": "pin", "symbolSize": 28,
         "itemStyle": {"color": ALERT_RED}, "z": 5, "data": alerts},
        # An empty line carrying the shaded windows: they show in the legend and can be hidden.
        {"name": t("labelled_windows"), "type": "line", "data": [],
         "itemStyle": {"color": WINDOW_SHADE},
         "markArea": {"silent": True, "itemStyle": {"color": WINDOW_SHADE}, "data": areas}},
    ]
    return {"animation": False,
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": {"left": 50, "right": 20, "top": 40, "bottom": 60},
            "xAxis": {"type": "time"}, "yAxis": {"type": "value", "scale": True},
            "dataZoom": [{"type": "inside"}, {"type": "slider"}],
            "series": lines + marks}
