"""What the CAPA service publishes about a case, from opening to recurrence."""
from __future__ import annotations

from datetime import date, datetime

from shared.contracts.contract import Contract


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


class CapaEffectivenessHeldOpen(Contract):
    """The effectiveness window's end passed while the watched metric sent no samples (the
    detector's MetricSilent): the case stays open; `reason` is the sentence shown to people,
    e.g. "the effectiveness window of P0-2026-12-003 cannot pass unobserved: store-042 sent no
    samples of store.nps for 2 days of the 7-day window"."""

    PRODUCER, AGGREGATE, EVENT = "capa", "effectiveness", "held"
    capa_id: str
    incident_id: str
    ref: str
    fingerprint: str | None = None
    reason: str
    at: datetime


class CapaEffectivenessExtended(Contract):
    """Samples resumed: the window is lengthened by the `unobserved_seconds` of silence inside
    it and now ends at `ends_at` (the case closes then if the alert stays clear)."""

    PRODUCER, AGGREGATE, EVENT = "capa", "effectiveness", "extended"
    capa_id: str
    incident_id: str
    ref: str
    fingerprint: str
    unobserved_seconds: float
    ends_at: datetime
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


class CapaSystemicProblemClosed(Contract):
    """A systemic problem's fix held: its root cause analysed, every action verified by
    someone other than its owner, the signature away on every entity for `window_seconds`,
    and `checked_by` (not an action owner) confirmed it. For the accountable manager who was
    told it was raised (上报总部), and for anyone following its linked cases."""

    PRODUCER, AGGREGATE, EVENT = "capa", "systemic", "closed"
    systemic_id: str
    signature: str
    rule: str
    root_cause: str
    actions: int
    capa_ids: list[str]
    incident_ids: list[str]
    window_seconds: float
    checked_by: str
    check: str  # what the person checked and saw
    evidence: str
    at: datetime

