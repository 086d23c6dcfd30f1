"""What the incidents service publishes about an incident's life: opening, staffing by hand,
stages, tiers, severity, progress, followers, resolution, reopening and closing."""
from __future__ import annotations

from datetime import datetime

from shared.contracts.contract import Contract


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
    # When the next update is due (stated by the author, else the cadence); None: no
    # cadence for its severity, or posted after the resolution (docs/progress-cadence.md).
    next_update_by: datetime | None = None


class IncidentProgressDue(Contract):
    """When the incident's next progress update is due (进展汇报, the severity's cadence in the
    SLA policy): set when it opens, takes an update, is reopened or changes severity.
    `due_by` None: its severity has no cadence (a running chase stops). `since`: the start
    of the interval (the opening, the reopening, or the update numbered `last_update`).
    `stated`: the last update's author said when. Resolution stops the cadence."""

    PRODUCER, AGGREGATE, EVENT = "incidents", "progress", "due"
    incident_id: str
    ref: str
    severity: str
    due_by: datetime | None
    since: datetime
    why: str  # opened, progress, reopened, severity
    at: datetime
    stated: bool = False
    last_update: int | None = None


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
