"""What capa listens to: every resolved incident gets a CAPA case; every opened one is noted
for knowledge recommendations."""
from __future__ import annotations

from services.capa.app import CapaApplication
from services.capa.knowledge.commands import Knowledge
from shared.bus.consumer import Subscription
from shared.contracts import IncidentOpened, IncidentResolved


def subscriptions(app: CapaApplication) -> list[Subscription]:
    return [Subscription(stream="INCIDENTS",
                         handlers={IncidentResolved: app.handle_incident_resolved,
                                   IncidentOpened: Knowledge(app).note_incident})]
