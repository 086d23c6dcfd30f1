"""What capa listens to: every resolved incident gets a CAPA case, and the incident's public
lifecycle is kept as facts for its postmortem."""
from __future__ import annotations

from services.capa.app import CapaApplication
from services.capa.incident_facts import FACTS
from shared.bus.consumer import Subscription
from shared.contracts import IncidentResolved


def subscriptions(app: CapaApplication) -> list[Subscription]:
    handlers = {contract: app.handle_incident_fact for contract in FACTS}
    handlers[IncidentResolved] = app.handle_incident_resolved  # also opens the case
    return [Subscription(stream="INCIDENTS", handlers=handlers)]
