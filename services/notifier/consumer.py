"""What the notifier listens to: the incidents' lifecycle."""
from __future__ import annotations

from services.notifier.app import NotifierApplication
from shared.bus.consumer import Subscription
from shared.contracts import IncidentAcknowledged, IncidentClosed, IncidentOpened, IncidentResolved


def subscriptions(app: NotifierApplication) -> list[Subscription]:
    return [Subscription(stream="INCIDENTS", handlers={
        IncidentOpened: app.handle_incident_opened,
        IncidentAcknowledged: app.handle_incident_acknowledged,
        IncidentResolved: app.handle_incident_resolved,
        IncidentClosed: app.handle_incident_closed,
    })]
