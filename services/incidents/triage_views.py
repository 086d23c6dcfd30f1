"""How the triage events are told on the incident's timeline. Alerts a storm gathers are not
told one by one (a storm holds thousands): GET /v1/incidents/{ref}/alerts lists them."""
from __future__ import annotations

from typing import Any

from services.incidents.domain.storm import IncidentStorm as S


def _storm_started(e: Any, _: dict[str, Any]) -> str:
    return (f"more than {e.threshold} new incidents within {e.window_seconds:g} s: an alert "
            "storm. Further alerts are gathered here instead of each opening and paging")


def _storm_ended(e: Any, _: dict[str, Any]) -> str:
    return e.summary


# None as the action: not told on the timeline.
TRIAGE_STORY = {
    S.StormStarted: ("storm started", _storm_started),
    S.StormEnded: ("storm ended", _storm_ended),
    S.AlertGathered: (None, None),
}
