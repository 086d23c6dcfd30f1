"""What the incidents service publishes about an incident's SLA clocks."""
from __future__ import annotations

from datetime import datetime

from shared.contracts.contract import Contract


class IncidentSlaBreached(Contract):
    PRODUCER, AGGREGATE, EVENT = "incidents", "sla", "breached"
    incident_id: str
    ref: str
    severity: str
    # "respond": not acknowledged in time; "resolve": service not restored in time; "close":
    # the case not closed in time after the resolution
    kind: str
    deadline: datetime
    at: datetime


class IncidentSlaAtRisk(Contract):
    """The SLA policy's share of a deadline's working time has passed and it is still
    running (once per deadline): the Responsible is warned before it is missed."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "sla", "warned"
    incident_id: str
    ref: str
    severity: str
    kind: str  # "respond", "resolve" or "close"
    deadline: datetime
    responsible: list[str] = []  # the RACI Responsible when it was noticed
    at: datetime


class IncidentSlaPaused(Contract):
    """The incident awaits its requester (待用户确认): its SLA clocks stop."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "sla", "paused"
    incident_id: str
    ref: str
    reason: str = ""
    by: str
    at: datetime


class IncidentSlaResumed(Contract):
    """The requester answered: the SLA clocks run again; each running deadline moved on by
    the working time paused (`deadlines`: kind → new due time, only the ones that moved)."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "sla", "resumed"
    incident_id: str
    ref: str
    by: str
    paused_since: datetime
    paused_seconds: float  # working time on the policy's calendar
    deadlines: dict[str, datetime] = {}
    at: datetime
