"""What capa listens to: every resolved incident gets a CAPA case; the incident's public
lifecycle is kept as facts for its postmortem; every opened incident is also noted for
knowledge recommendations; the detector's alerts tell whether a fix held through its
effectiveness window."""
from __future__ import annotations

from typing import Any

from services.capa.app import CapaApplication
from services.capa.incident_facts import FACTS
from services.capa.knowledge.commands import Knowledge
from shared.bus.consumer import Subscription
from shared.contracts import AlertRaised, CloudEvent, IncidentOpened, IncidentResolved
from shared.store import Tracking


def subscriptions(app: CapaApplication) -> list[Subscription]:
    handlers: dict[type, Any] = {contract: app.handle_incident_fact for contract in FACTS}
    handlers[IncidentResolved] = app.handle_incident_resolved  # also opens the case
    handlers[IncidentOpened] = _opened(app, Knowledge(app))
    return [Subscription(stream="INCIDENTS", handlers=handlers),
            Subscription(stream="DETECTOR", handlers={AlertRaised: app.handle_alert_raised},
                         read_ahead=app.read_ahead_alerts)]


def _opened(app: CapaApplication, knowledge: Knowledge) -> Any:
    # One message, one tracking row: the postmortem's facts and the knowledge profile are
    # saved together, so a redelivery adds neither twice.
    def handle(envelope: CloudEvent, contract: IncidentOpened, tracking: Tracking) -> None:
        app.save_tracked(*app.facts_heard(envelope, contract),
                         *knowledge.profile_of(envelope, contract), tracking=tracking)
    return handle
