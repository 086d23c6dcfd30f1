"""What capa listens to: every resolved incident gets a CAPA case."""
from __future__ import annotations

from services.capa.app import CapaApplication
from shared.bus.consumer import Subscription
from shared.contracts import IncidentResolved


def subscriptions(app: CapaApplication) -> list[Subscription]:
    return [Subscription(stream="INCIDENTS",
                         handlers={IncidentResolved: app.handle_incident_resolved})]
