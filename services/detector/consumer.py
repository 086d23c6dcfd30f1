"""What the detector listens to: how incidents its alerts opened were judged, for rule health
(a drill's verdict is not counted, and is withdrawn when the flag comes after it)."""
from __future__ import annotations

from typing import Any

from shared.bus.consumer import Subscription
from shared.causation import from_message
from shared.contracts import CloudEvent, IncidentDrillFlagged, IncidentResolved

from services.detector.app import DetectorApplication


def subscriptions(app: DetectorApplication) -> list[Subscription]:
    def incident_resolved(envelope: CloudEvent, fact: IncidentResolved, tracking: Any) -> None:
        if not fact.fingerprint or fact.drill:  # a drill says nothing of the rule's health
            app.save_tracked(tracking=tracking)
            return
        app.judge(fact.fingerprint, fact.verdict, fact.ref, actor=f"incidents:{fact.by}",
                  cause=from_message(envelope), tracking=tracking)

    def drill_flagged(envelope: CloudEvent, fact: IncidentDrillFlagged, tracking: Any) -> None:
        if not fact.fingerprint:
            app.save_tracked(tracking=tracking)
            return
        app.withdraw_verdict(fact.fingerprint, fact.ref, f"a drill: {fact.reason}",
                             actor=f"incidents:{fact.by}", cause=from_message(envelope),
                             tracking=tracking)

    return [Subscription(stream="INCIDENTS", handlers={IncidentResolved: incident_resolved,
                                                      IncidentDrillFlagged: drill_flagged})]
