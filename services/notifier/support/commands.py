"""The support desk's commands, mixed into NotifierApplication: configure it; route an
incident to its problem type's L1 group when it opens; climb to the next tier when a tier's
time box runs out (a late stage like any other: chase_due fires it) or when someone hands it
over with its package; and, once resolved, send the requester a satisfaction link."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from services.notifier.config_cache import Routing
from services.notifier.directory.chart import OrgChart
from services.notifier.domain import Delivery
from services.notifier.oncall.answers import team_on_call
from services.notifier.raci.deadline import Deadline
from services.notifier.raci.reach import Why, reach
from services.notifier.support.desk import SUPPORT_DESK_ID, SupportDesk, checked_rules
from services.notifier.support.ticket import SupportTicket
from shared.causation import from_message
from shared.contracts import CloudEvent, IncidentHandedOver, IncidentOpened, IncidentResolved
from shared.errors import NotFound
from shared.store import Tracking

log = logging.getLogger(__name__)

TIER_REASON = "support.tier"  # to the on-call people of the tier the incident enters
SCORE_REASON = "support.score"  # to the requester, with the satisfaction link
TIER_KIND = "tier"  # the Deadline kind of a tier's time box (reasons late.tier.<phase>)
TIMER = "notifier.chase_due"


class SupportCommands:
    """Needs the application's clock, save, save_tracked, get_or_none, org_chart,
    config_cache, reads, _schedule, _claim_at_once, _deadline_settings, followers_of,
    _incident_known and page_links."""

    # -- configuration -------------------------------------------------------------------
    def define_support(self, rules: Any, actor: str, cause: dict) -> dict:
        checked = checked_rules(rules, set(self.org_chart().teams))  # type: ignore[attr-defined]
        at, desk = self.clock.now(), self.support_desk()  # type: ignore[attr-defined]
        if desk is None:
            desk = SupportDesk(rules=checked, at=at, actor=actor, cause=cause)
        else:
            desk.revise(checked, at, actor, cause)
        self.save(desk)  # type: ignore[attr-defined]
        return desk_view(desk)

    def support_rules(self) -> dict:
        return desk_view(self.support_desk())

    def support_desk(self) -> SupportDesk | None:
        found = self.get_or_none(SUPPORT_DESK_ID)  # type: ignore[attr-defined]
        return found if isinstance(found, SupportDesk) else None

    # -- routing at the opening ----------------------------------------------------------
    def support_opening(self, contract: IncidentOpened, incident: dict[str, Any],
                        routing: Routing, at: datetime, cause: dict) -> list[Any]:
        """The ticket, the L1 team's messages and its time box; nothing without a desk, for
        a type with no group (and no default), or when routed already (a redelivery)."""
        desk = self.support_desk()
        if desk is None or contract.trial:
            return []
        kind = problem_type_of(contract)
        chain = desk.chain_for(kind)
        if chain is None or self.get_or_none(  # type: ignore[attr-defined]
                SupportTicket.create_id(contract.incident_id)) is not None:
            return []
        ticket = SupportTicket(incident_id=contract.incident_id, incident=incident, problem_type=kind, chain=chain, at=at,
                               actor="notifier", cause=cause)
        return [ticket, *self._enter_tier(ticket, "routed", None, None, routing, at,
                                          "notifier", cause)]

    # -- climbing ------------------------------------------------------------------------
    def tier_time_box_ran_out(self, deadline: Deadline, at: datetime, cause: dict) -> list[str]:
        """chase_due's phase `deadline` of a tier's time box: the next tier takes over,
        given the last package handed over, if any. At the last tier, or once resolved or
        handed over meanwhile, the time box is only closed."""
        ticket = self.get_or_none(SupportTicket.create_id(deadline.incident_id))  # type: ignore[attr-defined]
        climbs = (isinstance(ticket, SupportTicket) and not ticket.over
                  and ticket.following is not None
                  and deadline.key == ticket.deadline_key(ticket.level))
        deadline.meet(f"{deadline.subject} time box ran out"
                      + (f": escalated to {ticket.following['tier']}" if climbs else ""),
                      at, TIMER, cause)
        if not climbs:
            self.save(deadline)  # type: ignore[attr-defined]
            return []
        routing, _ = self.config_cache.current()  # type: ignore[attr-defined]
        last = ticket.packages[-1] if ticket.packages else None
        made = self._enter_tier(ticket, "time box", None, last, routing, at, TIMER, cause)
        self.save(deadline, ticket, *made)  # type: ignore[attr-defined]
        return [str(d.id) for d in made if isinstance(d, Delivery)]

    def handle_incident_handed_over(self, envelope: CloudEvent, contract: IncidentHandedOver,
                                    tracking: Tracking) -> None:
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        ticket = self.get_or_none(SupportTicket.create_id(contract.incident_id))  # type: ignore[attr-defined]
        if (not isinstance(ticket, SupportTicket) or ticket.over or ticket.current is None
                or ticket.current["tier"] != contract.from_tier or ticket.following is None):
            # Escalated on time meanwhile, resolved, or never routed here: nothing to climb.
            log.info("incident %s: hand-over from %s not applied (it is in %s)", contract.ref,
                     contract.from_tier, ticket.current["tier"]
                     if isinstance(ticket, SupportTicket) and ticket.current else "no tier")
            self.save_tracked(tracking=tracking)  # type: ignore[attr-defined]
            return
        package = {"from_tier": contract.from_tier, "by": contract.by, "logs": contract.logs,
                   "reproduction": contract.reproduction, "impact": contract.impact,
                   "note": contract.note}
        met = self._meet_time_box(ticket, f"handed over to {ticket.following['tier']} by "
                                  f"{contract.by}", at, cause)
        routing, _ = self.config_cache.current()  # type: ignore[attr-defined]
        made = self._enter_tier(ticket, "hand-over", package, package, routing, at,
                                contract.by, cause)
        self.save_tracked(ticket, *met, *made, tracking=tracking)  # type: ignore[attr-defined]

    def _enter_tier(self, ticket: SupportTicket, why: str, package: dict | None,
                    shown_package: dict | None, routing: Routing, at: datetime, actor: str,
                    cause: dict) -> list[Any]:
        """Whoever the tier's team has on call is told (with the package) and the first of
        them becomes Responsible; the tier's time box starts."""
        tier = ticket.following
        assert tier is not None  # the caller checked there is a next tier
        chart: OrgChart = self.org_chart()  # type: ignore[attr-defined]
        handles = on_call(self, tier["team"], at, chart)
        box = tier.get("time_box_seconds")
        due_at = at + timedelta(seconds=box) if box else None
        ticket.enter_next(why, handles[0] if handles else None, handles, due_at, package, at,
                          actor, cause)
        level = ticket.level
        about = {"deadline": TIER_KIND, "tier": tier["tier"], "group": tier["group"],
                 "team": tier["team"], "why": why, "package": shown_package,
                 "responsible": handles[:1],
                 **({"due_at": due_at.isoformat()} if due_at else {})}
        recipients = reach(handles, Why("tier", f"{tier['tier']}@{tier['group']}"), chart,
                           routing)
        deliveries = self._schedule(  # type: ignore[attr-defined]
            ticket.incident, recipients, TIER_REASON, at, at, actor, cause, set(),
            occasion=ticket.deadline_key(level), about=about)
        self._claim_at_once(deliveries, routing, at)  # type: ignore[attr-defined]
        made: list[Any] = list(deliveries)
        if due_at is not None:
            settings = self._deadline_settings()  # type: ignore[attr-defined]
            made.append(Deadline.set(
                incident=ticket.incident, key=ticket.deadline_key(level), kind=TIER_KIND,
                subject=tier["tier"], started_at=at, due_at=due_at,
                warn_share=settings["warn_at"], up_after_seconds=settings["up_after_seconds"],
                responsible=handles[:1], accountable=[], accountable_at=[], up_roles=[],
                at=at, actor=actor, cause=cause))
        return made

    def _meet_time_box(self, ticket: SupportTicket, why: str, at: datetime,
                       cause: dict) -> list[Any]:
        if ticket.level is None:
            return []
        found = self.get_or_none(Deadline.create_id(  # type: ignore[attr-defined]
            ticket.incident_id, ticket.deadline_key(ticket.level)))
        if isinstance(found, Deadline) and found.meet(why, at, "notifier", cause):
            return [found]
        return []

    # -- resolution ----------------------------------------------------------------------
    def support_on_resolved(self, contract: IncidentResolved, envelope: CloudEvent
                            ) -> list[Any]:
        """The tier's time box is met and the climb ends; the requester is sent a
        satisfaction link (when links are on and they have a contact)."""
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        changed: list[Any] = []
        ticket = self.get_or_none(SupportTicket.create_id(contract.incident_id))  # type: ignore[attr-defined]
        if isinstance(ticket, SupportTicket) and not ticket.over:
            changed += self._meet_time_box(ticket, f"resolved by {contract.by}", at, cause)
            ticket.end(f"resolved by {contract.by}", at, contract.by, cause)
            changed.append(ticket)
        return [*changed, *self._score_link_message(contract, at, cause)]

    def _score_link_message(self, contract: IncidentResolved, at: datetime,
                            cause: dict) -> list[Delivery]:
        links = self.page_links  # type: ignore[attr-defined]
        if links is None or contract.verdict == "false_positive":
            return []
        followers = self.followers_of(contract.incident_id)  # type: ignore[attr-defined]
        reporter = followers.reporter if followers is not None else None
        incident = self._incident_known(contract.incident_id) if reporter else None  # type: ignore[attr-defined]
        if not reporter or incident is None:
            return []
        routing, _ = self.config_cache.current()  # type: ignore[attr-defined]
        recipients = reach([reporter], Why("reporter", "requester"),
                           self.org_chart(), routing)  # type: ignore[attr-defined]
        existing = set(self.reads.latest_versions(  # type: ignore[attr-defined]
            r.delivery_id(contract.incident_id, SCORE_REASON) for r in recipients))
        deliveries = self._schedule(  # type: ignore[attr-defined]
            incident, recipients, SCORE_REASON, contract.at, at, "notifier", cause, existing,
            about={"resolved_by": contract.by, "summary": contract.summary})
        self._claim_at_once(deliveries, routing, at)  # type: ignore[attr-defined]
        return deliveries


def on_call(schedules: Any, team: str, at: datetime, chart: OrgChart) -> list[str]:
    """The team's on-call handles now; nobody when the team was disbanded since the desk
    was configured (the tier is entered all the same, and says so)."""
    try:
        return team_on_call(schedules, team, at, chart).handles
    except NotFound as gone:
        log.warning("support team %s: %s", team, gone)
        return []


def problem_type_of(contract: IncidentOpened) -> str | None:
    """The classified type when the opening carries one, else the `problem_type` label."""
    return getattr(contract, "problem_type", None) or contract.labels.get("problem_type")


def desk_view(desk: SupportDesk | None) -> dict:
    if desk is None:
        return {"tiers": [], "groups": {}, "types": {}, "default_group": None,
                "updated_at": None, "updated_by": None}
    return {**desk.rules, "updated_at": desk.updated_at, "updated_by": desk.updated_by}
