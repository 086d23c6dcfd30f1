"""What capa listens to: every resolved incident gets a CAPA case; the incident's public
lifecycle is kept as facts for its postmortem; every opened incident is also noted for
knowledge recommendations and checked for recurrence of a closed case's signature; the
detector's alerts tell whether a fix held through its effectiveness window."""
from __future__ import annotations

from typing import Any

from services.capa.app import CapaApplication
from services.capa.incident_facts import FACTS
from services.capa.knowledge.commands import Knowledge
from services.capa.recurrence import Recurrence
from shared.bus.consumer import Subscription
from shared.contracts import AlertRaised, CloudEvent, IncidentOpened, IncidentResolved
from shared.store import Tracking


def subscriptions(app: CapaApplication) -> list[Subscription]:
    handlers: dict[type, Any] = {contract: app.handle_incident_fact for contract in FACTS}
    handlers[IncidentResolved] = app.handle_incident_resolved  # also opens the case
    handlers[IncidentOpened] = _opened(app, Knowledge(app), Recurrence(app, app.recurrence))
    return [Subscription(stream="INCIDENTS", handlers=handlers),
            Subscription(stream="DETECTOR", handlers={AlertRaised: app.handle_alert_raised},
                         read_ahead=app.read_ahead_alerts)]


def _opened(app: CapaApplication, knowledge: Knowledge, recurrence: Recurrence) -> Any:
    # One message, one tracking row: the postmortem's facts, the knowledge profile and what
    # the opening means for recurrence are saved together, so a redelivery adds none twice.
    def handle(envelope: CloudEvent, contract: IncidentOpened, tracking: Tracking) -> None:
        app.save_tracked(*app.facts_heard(envelope, contract),
                         *knowledge.profile_of(envelope, contract),
                         *recurrence.on_opened(envelope, contract), tracking=tracking)
    return handle
