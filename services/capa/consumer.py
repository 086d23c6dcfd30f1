"""What capa listens to: every resolved incident whose closing path requires it (or whose
CAPA someone asked for) gets a CAPA case, and a drill's case leaves the KPIs; the incident's
public lifecycle is kept as facts for its postmortem; every opened incident is also noted for
knowledge recommendations and checked for recurrence of a closed case's signature; the
detector's alerts tell whether a fix held through its effectiveness window, and are kept as
sightings for 举一反三 (peers/), as are its near misses; its silent metrics hold a window open
(silences.py). The notifier's IncidentStaffed tells each incident's unit, for the KPIs (units/)."""
from __future__ import annotations

from typing import Any

from services.capa.app import CapaApplication
from services.capa.incident_facts import FACTS
from services.capa.knowledge.commands import Knowledge
from services.capa.peers.near_miss import on_near_miss
from services.capa.peers.sighting import AlertSighting, sighting_of
from services.capa.domain.incident_facts import IncidentFacts
from services.capa.domain.watch import AlertWatch
from services.capa.knowledge.aggregate import IncidentProfile
from services.capa.recurrence import Recurrence
from services.capa.silences import Silences
from services.capa.units.placement import on_staffed
from shared.bus.consumer import Subscription
from shared.contracts import (
    AlertRaised, CloudEvent, IncidentCapaRequested, IncidentDrillFlagged, IncidentOpened,
    IncidentResolved, IncidentStaffed, MetricResumed, MetricSilent, RuleNearMiss,
)
from shared.store import Tracking


def subscriptions(app: CapaApplication) -> list[Subscription]:
    handlers: dict[type, Any] = {contract: app.handle_incident_fact for contract in FACTS}
    handlers[IncidentResolved] = app.handle_incident_resolved  # also opens the case
    handlers[IncidentCapaRequested] = app.handle_incident_capa_requested
    handlers[IncidentDrillFlagged] = app.handle_incident_drill_flagged
    handlers[IncidentOpened] = _opened(app, Knowledge(app), Recurrence(app, app.recurrence))
    silences = Silences(app)
    return [Subscription(stream="INCIDENTS", handlers=handlers,
                         read_ahead=_read_ahead_incidents(app)),
            Subscription(stream="DETECTOR", handlers={
                AlertRaised: _raised(app), MetricSilent: silences.on_silent,
                MetricResumed: silences.on_resumed, RuleNearMiss: on_near_miss(app)},
                         read_ahead=_read_ahead_alerts(app)),
            Subscription(stream="NOTIFIER", handlers={IncidentStaffed: on_staffed(app)})]


def _opened(app: CapaApplication, knowledge: Knowledge, recurrence: Recurrence) -> Any:
    # One message, one tracking row: the postmortem's facts, the knowledge profile and what
    # the opening means for recurrence are saved together, so a redelivery adds none twice.
    # An opening whose fact is known was published again (after its tracking row was pruned,
    # or by a person): its recurrence is counted already.
    def handle(envelope: CloudEvent, contract: IncidentOpened, tracking: Tracking) -> None:
        facts = app.facts_heard(envelope, contract)
        app.save_tracked(*facts, *knowledge.profile_of(envelope, contract),
                         *(recurrence.on_opened(envelope, contract) if facts else ()),
                         tracking=tracking)
    return handle


def _raised(app: CapaApplication) -> Any:
    # The sighting and any failed effectiveness check are written in one transaction with the
    # message's tracking row: a batch of messages already is one; a lone message gets its own.
    def handle(envelope: CloudEvent, contract: AlertRaised, tracking: Tracking) -> None:
        heard = sighting_of(app, envelope, contract)

        def run() -> None:
            if heard:
                app.save(*heard)
            app.handle_alert_raised(envelope, contract, tracking)

        app.save_batch(run) if heard and not app.in_batch() else run()
    return handle


def _read_ahead_incidents(app: CapaApplication) -> Any:
    # A storm's openings and their facts: each incident's facts, profile and alert watch in
    # one query for the batch instead of three reads each. A rule's signature is read from
    # its snapshot by the batch's first opening of the rule; the later ones get the copy that
    # opening saved to the batch.
    def read_ahead(contracts: list[Any]) -> None:
        ids = [IncidentFacts.create_id(c.incident_id) for c in contracts
               if getattr(c, "incident_id", "").strip()]
        for c in contracts:
            if isinstance(c, IncidentOpened) and c.incident_id.strip():
                ids.append(IncidentProfile.create_id(c.incident_id))
                if c.fingerprint:
                    ids.append(AlertWatch.create_id(c.fingerprint))
        app.read_ahead(ids, never_snapshotted=True)
    return read_ahead


def _read_ahead_alerts(app: CapaApplication) -> Any:
    def read_ahead(contracts: list[Any]) -> None:
        app.read_ahead_alerts(contracts)
        app.read_ahead((AlertSighting.create_id(c.alert_id) for c in contracts
                        if isinstance(c, AlertRaised)), never_snapshotted=True)
    return read_ahead
