"""What capa listens to: every resolved incident gets a CAPA case; the detector's alerts tell
whether a fix held through its effectiveness window; every opened incident is noted for
knowledge recommendations."""
from __future__ import annotations

from services.capa.app import CapaApplication
from services.capa.knowledge.commands import Knowledge
from shared.bus.consumer import Subscription
from shared.contracts import AlertRaised, IncidentOpened, IncidentResolved


def subscriptions(app: CapaApplication) -> list[Subscription]:
    return [Subscription(stream="INCIDENTS",
                         handlers={IncidentResolved: app.handle_incident_resolved,
                                   IncidentOpened: Knowledge(app).note_incident}),
            Subscription(stream="DETECTOR", handlers={AlertRaised: app.handle_alert_raised},
                         read_ahead=app.read_ahead_alerts)]
