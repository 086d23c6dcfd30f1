"""How support-tier events (routed or escalated to a tier, handed over with a package, scored
by the requester) are told: as public contracts, and as lines of the incident's timeline."""
from __future__ import annotations

from typing import Any

from shared.contracts import IncidentHandedOver

from services.incidents.domain.tiers import IncidentTiers as T
from services.incidents.wording import clock

_WHY = {"routed": "routed to", "time box": "escalated on time to", "hand-over": "handed over to"}


# -- contracts ------------------------------------------------------------------------------
def _handed_over(e: Any) -> IncidentHandedOver:
    return IncidentHandedOver(incident_id=str(e.originator_id), ref=e.ref,
                              from_tier=e.from_tier, by=e.by, logs=list(e.logs),
                              reproduction=e.reproduction, impact=e.impact, note=e.note,
                              at=e.at)


TIER_CONTRACTS = {T.HandedOver: _handed_over}


# -- timeline -------------------------------------------------------------------------------
def _told_tier(e: Any, _: dict[str, Any]) -> str:
    who = (f"{e.responsible} (on call) is Responsible" if e.responsible
           else "nobody of the team is on call")
    box = f"; its time box runs out at {clock(e.due_at)}" if e.due_at else ""
    return (f"{_WHY.get(e.why, e.why)} {e.tier} ({e.group}, team {e.team}): {who}{box}")


def _told_handover(e: Any, _: dict[str, Any]) -> str:
    note = f"; note: {e.note}" if e.note else ""
    return (f"{e.by} handed {e.ref} over from {e.from_tier} to {e.to_tier} with the handover "
            f"package: logs {', '.join(e.logs)}; reproduction: {e.reproduction}; impact: "
            f"{e.impact}{note}")


def _told_score(e: Any, _: dict[str, Any]) -> str:
    comment = f": {e.comment}" if e.comment else ""
    return f"{e.person} (the requester) scored the help {e.score}/5{comment}"


TIER_STORY = {
    T.TierEntered: ("support tier", _told_tier),
    T.HandedOver: ("handed over", _told_handover),
    T.SatisfactionRated: ("satisfaction scored", _told_score),
}
