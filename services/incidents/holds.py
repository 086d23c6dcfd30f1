"""Facts from the notifier about who is not told yet: notifications held by a silence,
maintenance window, inhibition or trial mode, and their release. Mixed into
IncidentsApplication; each fact becomes a line on the incident's timeline."""
from __future__ import annotations

from shared.contracts import CloudEvent, NotificationsHeld, NotificationsReleased
from shared.store import Tracking


class HoldFacts:
    def handle_notifications_held(self, envelope: CloudEvent, fact: NotificationsHeld,
                                  tracking: Tracking) -> None:
        hold = fact.model_dump(mode="json", exclude={"incident_id", "ref"})
        self._record_fact(envelope, fact.incident_id, tracking,  # type: ignore[attr-defined]
                          lambda i, at, actor, cause: i.record_hold(hold, at, actor, cause))

    def handle_notifications_released(self, envelope: CloudEvent, fact: NotificationsReleased,
                                      tracking: Tracking) -> None:
        release = fact.model_dump(mode="json", exclude={"incident_id", "ref"})
        self._record_fact(envelope, fact.incident_id, tracking,  # type: ignore[attr-defined]
                          lambda i, at, actor, cause: i.record_release(release, at, actor, cause))
