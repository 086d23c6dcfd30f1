"""Contract payloads (CloudEvent `data`). Adding optional fields is compatible; anything
else is a new version (`.v2`) published alongside the old one until consumers move."""
from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    PRODUCER: ClassVar[str]
    AGGREGATE: ClassVar[str]
    EVENT: ClassVar[str]
    VERSION: ClassVar[int] = 1

    @classmethod
    def type_name(cls) -> str:
        """The CloudEvent type, which is also the NATS subject."""
        return f"closedloop.{cls.PRODUCER}.{cls.AGGREGATE}.{cls.EVENT}.v{cls.VERSION}"


class AlertRaised(Contract):
    PRODUCER, AGGREGATE, EVENT = "detector", "alert", "raised"
    alert_id: str
    fingerprint: str
    source: str  # "rule", "alertmanager", "pagerduty" or "webhook:<source>"
    rule_id: str | None = None
    name: str
    metric: str | None = None
    entity: str
    labels: dict[str, str] = {}
    severity: str  # P0..P3
    value: float | None = None
    threshold: float | None = None
    summary: str = ""
    started_at: datetime
    trial: bool = False  # raised by a rule in trial mode (内部试运行): recorded, nobody told
    # How often the rule evaluates its entity (its interval, else its metric's); none when it
    # evaluates on every sample or the alert came from Alertmanager.
    interval_seconds: float | None = None


class AlertResolved(Contract):
    PRODUCER, AGGREGATE, EVENT = "detector", "alert", "resolved"
    alert_id: str
    fingerprint: str
    entity: str
    value: float | None = None
    resolved_at: datetime


class AlertAcknowledged(Contract):
    """An outside sender says someone is on the alert (PagerDuty `acknowledge`), once per
    occurrence: the incident its fingerprint leads to is acknowledged as `by`."""
    PRODUCER, AGGREGATE, EVENT = "detector", "alert", "acknowledged"
    alert_id: str
    fingerprint: str
    source: str  # "pagerduty"
    by: str  # who acknowledged, naming the integration: "pagerduty:<integration>"
    acknowledged_at: datetime


class IncidentOpened(Contract):
    PRODUCER, AGGREGATE, EVENT = "incidents", "incident", "opened"
    incident_id: str
    ref: str  # human id, e.g. P0-2026-11-001
    fingerprint: str
    severity: str
    title: str
    entity: str
    alert_id: str
    opened_at: datetime
    respond_by: datetime
    resolve_by: datetime
    # The alert's labels plus alertname and entity where it has none, and severity (always
    # the incident's): what routes and quiet rules match on.
    labels: dict[str, str] = {}
    trial: bool = False  # grew from an alert raised by a rule in trial mode: nobody is told
    # What the opening alert measured, for the messages people read: the metric, its value
    # against the rule's threshold, and since when it has been firing (older senders: none).
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    firing_since: datetime | None = None
    reporter: str | None = None  # who declared a manual incident (its requester); none for alerts
    drill: bool = False  # an exercise (演练): messages say so, every KPI leaves it out
    # A manual incident's intake (none for alerts): how it came in (ticket, im, phone, email,
    # complaint, public_opinion, inspection), its problem type, the report and its links.
    source: str | None = None
    problem_type: str | None = None
    description: str | None = None
    attachments: list[str] = []


class IncidentAcknowledged(Contract):
    PRODUCER, AGGREGATE, EVENT = "incidents", "incident", "acknowledged"
    incident_id: str
    ref: str
    by: str
    at: datetime


class IncidentResolved(Contract):
    PRODUCER, AGGREGATE, EVENT = "incidents", "incident", "resolved"
    incident_id: str
    ref: str
    severity: str
    title: str
    entity: str
    by: str
    summary: str = ""
    at: datetime
    fingerprint: str | None = None  # the alert fingerprint the incident grew from
    verdict: str = "confirmed"  # or "false_positive": the alert should not have fired
    status: str | None = None  # the stage it moved to: "planning" (方案制定中) unless further on
    interval_seconds: float | None = None  # how often the alert's rule evaluates, when known
    # How it will close (docs/adr/closing-paths.md): "required" (a CAPA case closes it; what
    # older producers meant), "optional" (a person closes it, or asks for a case:
    # IncidentCapaRequested), "observe" (closes by itself after `observe_seconds` with the
    # alert clear) or "false_positive" (IncidentClosed follows at once). Only "required"
    # opens a CAPA case.
    closing: str = "required"
    observe_seconds: float | None = None
    drill: bool = False  # an exercise: rule health and every KPI leave it out


class IncidentCapaRequested(Contract):
    """A resolved incident whose severity makes a CAPA optional gets a case all the same,
    because someone asked (`reason`). The case then closes the incident as usual."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "capa", "requested"
    incident_id: str
    ref: str
    severity: str
    title: str
    entity: str
    by: str
    reason: str
    resolution: str = ""  # the resolution's summary: what was done to restore service
    at: datetime
    fingerprint: str | None = None
    interval_seconds: float | None = None
    drill: bool = False


class IncidentDrillFlagged(Contract):
    """The incident is an exercise (演练), found out after it opened: from now on messages
    about it say so, and every KPI (CAPA KPIs, SLA attainment, rule health, recurrence)
    leaves it out."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "drill", "flagged"
    incident_id: str
    ref: str
    reason: str
    by: str
    at: datetime
    fingerprint: str | None = None  # the alert it grew from: its rule's health drops it


class IncidentStageEntered(Contract):
    """The incident is in a time-boxed stage: planning (方案制定中), executing (执行中) or
    verifying (验证中). Published with each CAPA step that leaves it there; stages only move
    forward, so the first message naming a stage is its entry and a later stage ends it.
    The resolution's entry into planning is IncidentResolved.status."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "stage", "entered"
    incident_id: str
    stage: str
    at: datetime
    ref: str | None = None
    due_by: datetime | None = None  # when the producer knows the stage's time box


class IncidentRoleAssigned(Contract):
    """Someone was given a RACI role on the incident after it opened: by hand (`via` "hand")
    or by acknowledging it with nobody responsible yet (`via` "acknowledged"), or as the
    on-call person of the support tier it entered (`via` "tier"). Responsible and
    Accountable name one person, so `person` replaces whoever held them; Consulted and
    Informed are added to."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "role", "assigned"
    incident_id: str
    role: str  # responsible, accountable, consulted, informed
    person: str
    at: datetime
    ref: str | None = None  # absent from assignments recorded before it was published
    via: str = "hand"


class IncidentHandedOver(Contract):
    """Someone handed the incident to the next support tier (L1 → L2 → R&D) with the
    handover package the next tier needs (交接标准): links to logs, how to reproduce it, what
    it affects. The notifier moves it to the next tier and tells that tier's on-call people."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "handover", "recorded"
    incident_id: str
    ref: str
    from_tier: str  # the tier handing over, e.g. "L1"
    by: str
    logs: list[str]  # links to logs, screenshots, traces
    reproduction: str  # steps to reproduce
    impact: str  # who and what it affects
    at: datetime
    note: str = ""


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


class IncidentSeverityChanged(Contract):
    """Someone changed the incident's severity (P0–P3) and said why. The respond and resolve
    deadlines are the new severity's SLA counted from the opening. `acknowledged`: someone has
    it in hand; raising an unacknowledged incident to P0/P1 starts the new severity's ladder."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "severity", "changed"
    incident_id: str
    ref: str
    severity: str
    previous: str
    reason: str
    by: str
    respond_by: datetime
    resolve_by: datetime
    acknowledged: bool
    status: str
    at: datetime


class IncidentReopened(Contract):
    """A resolved or closed incident is open again (service failed again, the fix did not
    hold): it must be acknowledged anew, the escalation ladder starts over from `at`, and it
    has the severity's respond and resolve times from `at` (`respond_by` is absent from
    reopenings published before it was added)."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "incident", "reopened"
    incident_id: str
    ref: str
    severity: str
    reason: str
    by: str
    was: str  # the status it left: "planning"…"verifying" (resolved) or "closed"
    status: str
    resolve_by: datetime
    at: datetime
    respond_by: datetime | None = None  # to be acknowledged again by


class IncidentProgressPosted(Contract):
    """A progress update on the incident, told to those who should know of it."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "progress", "posted"
    incident_id: str
    ref: str
    number: int  # 1 for the incident's first update, then one more each
    text: str
    author: str
    at: datetime


class IncidentFollowed(Contract):
    """Someone follows the incident: its lifecycle messages and progress reach them. `via`
    "reporter" for who declared a manual incident, else "hand"."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "follower", "added"
    incident_id: str
    ref: str
    person: str
    by: str
    via: str = "hand"
    at: datetime


class IncidentUnfollowed(Contract):
    PRODUCER, AGGREGATE, EVENT = "incidents", "follower", "removed"
    incident_id: str
    ref: str
    person: str
    by: str
    at: datetime


class IncidentPageRead(Contract):
    """A person opened the one-click acknowledge link of a page they were sent (a read
    receipt). `acknowledged`: this acknowledged the incident as them (IncidentAcknowledged
    follows); otherwise `acknowledged_by` had acknowledged it already, or it was finished."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "page", "read"
    incident_id: str
    ref: str
    person: str
    delivery_id: str  # the notifier's delivery that carried the link
    link_id: str
    acknowledged: bool
    at: datetime
    acknowledged_by: str | None = None


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


class IncidentClosed(Contract):
    PRODUCER, AGGREGATE, EVENT = "incidents", "incident", "closed"
    incident_id: str
    ref: str
    capa_id: str | None = None
    at: datetime
    # How it closed: "capa" (its case closed; older producers), or without a case:
    # "false_positive", "optional" (a person's `note`), "observe" (its window ended clear).
    path: str = "capa"
    note: str = ""
    by: str | None = None  # who closed it by hand or as a false positive


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
    at: datetime


class CapaOpened(Contract):
    PRODUCER, AGGREGATE, EVENT = "capa", "case", "opened"
    capa_id: str
    incident_id: str
    ref: str
    title: str
    at: datetime


class CapaRootCauseRecorded(Contract):
    PRODUCER, AGGREGATE, EVENT = "capa", "rootcause", "recorded"
    capa_id: str
    incident_id: str
    method: str  # "5whys" or "fishbone"
    statement: str
    category: str | None = None  # fishbone 人机料法环测: man, machine, material, method, …
    whys: list[str] = []
    revision: int
    by: str
    at: datetime


class CapaActionAdded(Contract):
    PRODUCER, AGGREGATE, EVENT = "capa", "action", "added"
    capa_id: str
    incident_id: str
    action_id: str
    kind: str  # corrective or preventive
    title: str
    owner: str
    due_date: date
    acceptance_criteria: str
    by: str  # who planned it
    at: datetime
    adverse_implications: str | None = None  # what the action might break, if anything
    entity: str | None = None  # the peer a preventive action protects (举一反三)
    verifier: str | None = None  # who is to verify it, when named as it was planned


class CapaActionCompleted(Contract):
    PRODUCER, AGGREGATE, EVENT = "capa", "action", "completed"
    capa_id: str
    incident_id: str
    action_id: str
    kind: str
    owner: str
    completed_by: str
    evidence: str
    open_actions: int  # actions of the case still not completed after this one
    at: datetime


class CapaActionVerified(Contract):
    PRODUCER, AGGREGATE, EVENT = "capa", "action", "verified"
    capa_id: str
    incident_id: str
    action_id: str
    kind: str
    owner: str
    verifier: str
    at: datetime
    adverse_check: str | None = None  # how the verifier saw the adverse implications did not occur


class CapaEffectivenessStarted(Contract):
    """Every action of the case is verified: the fix is now watched. With an alert
    (`fingerprint`), the case closes if it stays clear until `ends_at`; a manual incident's
    case (no fingerprint, no end) waits for a person's effectiveness check."""

    PRODUCER, AGGREGATE, EVENT = "capa", "effectiveness", "started"
    capa_id: str
    incident_id: str
    ref: str
    fingerprint: str | None = None
    window_seconds: float
    ends_at: datetime | None = None
    at: datetime


class CapaEffectivenessFailed(Contract):
    """The incident's alert fired inside the effectiveness window: the fix did not hold and
    the case is back in analysis. `day` counts the window's first day as 1; `reason` is the
    sentence shown to people."""

    PRODUCER, AGGREGATE, EVENT = "capa", "effectiveness", "failed"
    capa_id: str
    incident_id: str
    ref: str
    fingerprint: str
    alert_id: str
    alert: str  # the alert's name
    entity: str
    fired_at: datetime
    day: int
    window_seconds: float
    reason: str
    at: datetime


class CapaEffectivenessChecked(Contract):
    """A person other than the action owners saw that a manual incident's fix held."""

    PRODUCER, AGGREGATE, EVENT = "capa", "effectiveness", "checked"
    capa_id: str
    incident_id: str
    verifier: str
    text: str
    evidence: str
    at: datetime


class CapaClosed(Contract):
    PRODUCER, AGGREGATE, EVENT = "capa", "case", "closed"
    capa_id: str
    incident_id: str
    ref: str
    root_cause: str
    actions: int
    at: datetime


class CapaRecurred(Contract):
    """The signature of a closed case (its alert: rule × entity) returned as a new incident
    within the recurrence period: the case's actions were not effective and it is back in
    analysis. `capa_id`, `incident_id` and `ref` are the old case's; `recurrence_*` the new
    incident's; `after_seconds` how long after closure it came back."""

    PRODUCER, AGGREGATE, EVENT = "capa", "case", "recurred"
    capa_id: str
    incident_id: str
    ref: str
    fingerprint: str
    entity: str
    recurrence_incident_id: str
    recurrence_ref: str
    closed_at: datetime
    recurred_at: datetime
    after_seconds: float
    reason: str  # the sentence shown to people
    at: datetime


class CapaSystemicProblemRaised(Contract):
    """A signature recurred `recurrences` times across the organisation within
    `period_seconds` (e.g. one rule on several stores): a systemic problem, one level above
    the single cases, for the accountable manager (上报总部). `capa_ids` are the linked cases."""

    PRODUCER, AGGREGATE, EVENT = "capa", "systemic", "raised"
    systemic_id: str
    signature: str  # what recurred, e.g. "rule:NPS collapse"
    rule: str
    recurrences: int
    threshold: int
    period_seconds: float
    entities: list[str]
    incident_refs: list[str]
    capa_ids: list[str]
    summary: str  # the sentence shown to people
    at: datetime
    # The recurrences' incident ids, in the order of `incident_refs` (added later: older
    # messages carry none), so a reader can find its own records of them.
    incident_ids: list[str] = []


CONTRACTS: dict[str, type[Contract]] = {
    c.type_name(): c
    for c in (
        AlertRaised, AlertResolved, AlertAcknowledged, IncidentOpened, IncidentAcknowledged, IncidentResolved,
        IncidentSlaBreached, IncidentSlaAtRisk, IncidentSlaPaused, IncidentSlaResumed,
        IncidentStageEntered, IncidentRoleAssigned, IncidentClosed,
        IncidentSeverityChanged, IncidentReopened, IncidentProgressPosted, IncidentFollowed,
        IncidentUnfollowed,
        IncidentPageRead, IncidentCapaRequested, IncidentDrillFlagged,
        IncidentHandedOver, SupportTierEntered,
        NotificationDelivered, NotificationFailed, EscalationTriggered, IncidentStaffed,
        NotificationsHeld, NotificationsReleased, CapaOpened, CapaRootCauseRecorded,
        CapaActionAdded, CapaActionCompleted,
        CapaActionVerified, CapaClosed, CapaEffectivenessStarted, CapaEffectivenessFailed,
        CapaEffectivenessChecked, CapaRecurred, CapaSystemicProblemRaised,
    )
}


def contract_for_type(type_name: str) -> type[Contract]:
    try:
        return CONTRACTS[type_name]
    except KeyError:
        raise ValueError(f"unknown event type {type_name!r}") from None
