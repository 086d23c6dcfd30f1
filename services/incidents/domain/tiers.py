"""Support tiers (一线 L1 → 二线 L2 → 研发 R&D): the notifier routes the incident to a tier and
names who of its team is on call, who becomes Responsible; people hand it over to the next
tier with a handover package (交接标准); once resolved, the requester may score the help.
The tier chain and its time boxes are the notifier's configuration: the incident keeps the
tier it is in and whether a next one exists."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.core import IncidentCore
from services.incidents.domain.errors import LinkAlreadyUsed
from services.incidents.domain.vocabulary import RaciRole
from shared.errors import DomainError, Invalid

PACKAGE_FIELDS = ("logs", "reproduction", "impact")
SCORES = range(1, 6)


class IncidentTiers(IncidentCore):
    """State the Incident's own events never set starts from these class defaults (no
    annotations: eventsourcing would take them for fields)."""

    tier = None  # the support tier it is in ("L1"), none until routed
    next_tier = None  # the tier a hand-over goes to; none at the last one
    handovers = ()  # the packages handed over, oldest first
    score = None  # {"score", "comment", "by", "at"} once the requester scored it

    # -- routing and escalation (facts from the notifier) --------------------------------
    def enter_tier(self, tier: str, group: str, team: str, why: str,
                   responsible: str | None, next_tier: str | None,
                   due_at: datetime | None, at: datetime, actor: str,
                   cause: dict[str, Any]) -> bool:
        """False (nothing recorded) for a tier it is in already (a redelivery). Whoever the
        team had on call becomes Responsible, replacing the earlier tier's."""
        if self.tier == tier or self.status.value in ("closed", "archived"):  # type: ignore[attr-defined]
            return False
        self._tier_entered(ref=self.ref, tier=tier, group=group, team=team, why=why,
                           responsible=responsible, next_tier=next_tier, due_at=due_at,
                           at=at, actor=actor, cause=cause)
        if responsible and responsible not in self.raci[RaciRole.RESPONSIBLE]:  # type: ignore[attr-defined]
            self._role_assigned(  # type: ignore[attr-defined]  (raci.py)
                role=str(RaciRole.RESPONSIBLE), person=responsible, at=at, actor=actor,
                cause=cause, via="tier", ref=self.ref)
        return True

    @event("TierEntered")
    def _tier_entered(self, ref: str, tier: str, group: str, team: str, why: str,
                      responsible: str | None, next_tier: str | None,
                      due_at: datetime | None, at: datetime, actor: str,
                      cause: dict[str, Any]) -> None:
        self.tier, self.next_tier = tier, next_tier

    # -- hand-over by hand -----------------------------------------------------------------
    def hand_over(self, package: dict[str, Any], by: str, note: str, at: datetime,
                  cause: dict[str, Any]) -> None:
        """To the next tier, with the package it needs; the notifier moves the incident
        there and passes the package on."""
        self.check_not_finished("be handed over")
        self.check_can_hand_over()
        checked = check_package(package)
        self._handed_over(ref=self.ref, from_tier=self.tier, to_tier=self.next_tier, by=by,
                          note=note.strip(), at=at, actor=by, cause=cause, **checked)

    @event("HandedOver")
    def _handed_over(self, ref: str, from_tier: str, to_tier: str, by: str, logs: list[str],
                     reproduction: str, impact: str, note: str, at: datetime, actor: str,
                     cause: dict[str, Any]) -> None:
        self.handovers = (*self.handovers, {"from_tier": from_tier, "to_tier": to_tier,
                                            "by": by, "at": at})

    # -- satisfaction ----------------------------------------------------------------------
    def rate(self, link_id: str, person: str, score: int, comment: str, at: datetime,
             cause: dict[str, Any]) -> None:
        """The requester's score through their signed link: once per link, after the
        service was restored."""
        self.check_score_link_unused(link_id)
        self.check_resolved_for_scoring()
        if score not in SCORES:
            raise Invalid("score", f"a whole number from 1 (very unhappy) to 5 (very happy), "
                          f"got {score!r}")
        self._rated(ref=self.ref, score=score, comment=comment.strip(), person=person,
                    link_id=link_id, at=at, actor=person, cause=cause)

    @event("SatisfactionRated")
    def _rated(self, ref: str, score: int, comment: str, person: str, link_id: str,
               at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.score = {"score": score, "comment": comment, "by": person, "at": at}
        self.used_links = {**self.used_links, link_id: at}  # type: ignore[has-type]

    # -- guards ----------------------------------------------------------------------------
    def check_can_hand_over(self) -> None:
        if self.tier is None:
            raise NotInATier(f"incident {self.ref} cannot be handed over: it was not routed "
                             "to a support tier (its problem type has no support group)")
        if self.resolved_at is not None:  # type: ignore[attr-defined]
            raise NotInATier(f"incident {self.ref} cannot be handed over: it is resolved; "
                             "reopen it first")
        if self.next_tier is None:
            raise LastTier(f"incident {self.ref} cannot be handed over: {self.tier} is the "
                           "last support tier")

    def check_score_link_unused(self, link_id: str) -> None:
        if link_id in self.used_links:  # type: ignore[attr-defined]
            raise LinkAlreadyUsed(
                f"this satisfaction link for incident {self.ref} was already used at "
                f"{self.used_links[link_id].isoformat()}; each link works once")  # type: ignore[attr-defined]

    def check_resolved_for_scoring(self) -> None:
        if self.resolved_at is None and self.status.value not in ("closed", "archived"):  # type: ignore[attr-defined]
            raise NotResolvedYet(f"incident {self.ref} cannot be scored yet: it is not "
                                 "resolved")


def check_package(package: dict[str, Any]) -> dict[str, Any]:
    """The handover package (交接标准): links to logs, reproduction steps, impact. Refused
    naming the first missing field."""
    logs = package.get("logs") or []
    if not isinstance(logs, list) or not [x for x in logs if isinstance(x, str) and x.strip()]:
        raise Invalid("package.logs", "give at least one link to logs, screenshots or traces "
                      "so the next tier need not ask for them")
    for field in ("reproduction", "impact"):
        value = package.get(field)
        if not isinstance(value, str) or not value.strip():
            raise Invalid(f"package.{field}", {
                "reproduction": "say how to reproduce the problem (steps, data, device)",
                "impact": "say who and what it affects (stores, users, orders)"}[field])
    return {"logs": [x.strip() for x in logs if x.strip()],
            "reproduction": package["reproduction"].strip(),
            "impact": package["impact"].strip()}


class NotInATier(DomainError):
    """Only an incident routed to a support tier can be handed over."""


class LastTier(DomainError):
    """The last tier has nobody to hand over to."""


class NotResolvedYet(DomainError):
    """The requester scores the help once the service is restored."""
