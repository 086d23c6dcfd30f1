"""What the notifier publishes: deliveries, escalations, holds and staffing."""
from __future__ import annotations

from datetime import datetime

from shared.contracts.contract import Contract


class SupportTierEntered(Contract):
    """The incident entered a support tier: routed to its problem type's L1 group at the
    opening, escalated when the tier's time box ran out (`why` "time box"), or handed over by
    hand (`why` "hand-over"). `responsible` is who of the tier's team was on call (the
    incidents service makes them Responsible); none when nobody of the team was."""

    PRODUCER, AGGREGATE, EVENT = "notifier", "tier", "entered"
    incident_id: str
    ref: str
    tier: str  # L1, L2, R&D (as configured)
    group: str  # the support group
    team: str  # the notifier team that staffs the group
    why: str  # "routed", "time box" or "hand-over"
    responsible: str | None = None
    on_call: list[str] = []  # everyone of the team on call, told of it
    problem_type: str | None = None
    next_tier: str | None = None  # none at the last tier: nobody to hand over to
    due_at: datetime | None = None  # when the tier's time box runs out, if it has one
    at: datetime


class NotificationDelivered(Contract):
    PRODUCER, AGGREGATE, EVENT = "notifier", "notification", "delivered"
    notification_id: str
    incident_id: str
    ref: str
    channel_id: str
    channel_name: str
    reason: str  # "incident.opened", "escalation.step1", …
    attempts: int
    status_code: int | None = None
    at: datetime


class NotificationFailed(Contract):
    PRODUCER, AGGREGATE, EVENT = "notifier", "notification", "failed"
    notification_id: str
    incident_id: str
    ref: str
    channel_id: str
    channel_name: str
    reason: str
    attempts: int
    error: str
    at: datetime


class EscalationTriggered(Contract):
    PRODUCER, AGGREGATE, EVENT = "notifier", "escalation", "triggered"
    incident_id: str
    ref: str
    step: int
    channel_ids: list[str]
    waited_seconds: float
    at: datetime
    channel_names: list[str] = []
    reason: str = "escalation.step1"  # escalation.step<N>, or .repeat<R> on a repeat
    round: int = 0  # 0 on the ladder's first pass
    people: list[str] = []  # handles of the people the step's targets resolved to
    unresolved: list[str] = []  # "<kind>:<ref>: why" for targets the step could not reach


class NotificationsHeld(Contract):
    """Nobody is told about the incident for now: a quiet rule holds its notifications, or it
    grew from a rule in trial mode (then for good). Sent again when another reason takes
    over (a silence ends inside a maintenance window), and when a step of its escalation
    ladder falls due under a silence or maintenance window (the ladder pauses until then)."""

    PRODUCER, AGGREGATE, EVENT = "notifier", "notification", "held"
    incident_id: str
    ref: str
    kind: str  # silence, maintenance, inhibition or trial
    hold_id: str | None = None  # the silence, window or inhibition rule; none for trial
    name: str = ""  # a window's or rule's name, a silence's comment
    until: datetime | None = None  # none: while the inhibiting incident fires, or for good
    source_ref: str | None = None  # inhibition: the incident whose alert holds this one
    at: datetime


class NotificationsReleased(Contract):
    """What held the incident's notifications ended while it was still open: its first
    step is told now and its escalation ladder starts from here."""

    PRODUCER, AGGREGATE, EVENT = "notifier", "notification", "released"
    incident_id: str
    ref: str
    kind: str  # of the hold that ended last
    hold_id: str | None = None
    name: str = ""
    held_seconds: float
    policies: list[str] = []  # the escalation policies the routes chose at release
    at: datetime


class IncidentStaffed(Contract):
    """Who the RACI matrix names for an incident, resolved against the organisation when it
    opened, or again when its severity changed (people by handle). Roles assigned by hand
    before it arrives are kept."""

    PRODUCER, AGGREGATE, EVENT = "notifier", "incident", "staffed"
    incident_id: str
    ref: str
    severity: str
    responsible: list[str]
    accountable: list[str]
    consulted: list[str] = []
    informed: list[str] = []
    unresolved: list[str] = []  # "<role>: why" for matrix roles nobody holds
    # The organisation's units from the root down to the entity's (深圳宝安店 under 华南区),
    # each {"key", "name"}: what the incidents board shows and filters by. Empty when the
    # entity belongs to no unit.
    unit_path: list[dict[str, str]] = []
    at: datetime
