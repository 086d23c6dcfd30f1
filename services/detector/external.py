"""An alert as any outside sender states it (Alertmanager, PagerDuty, a mapped JSON webhook):
what the shared ingest path (alert_ingest.py) deduplicates and stores."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.detector.domain import Severity


@dataclass(frozen=True)
class ExternalAlert:
    fingerprint: str
    firing: bool
    name: str
    entity: str
    severity: Severity
    labels: dict[str, str]
    summary: str
    starts_at: datetime
    ends_at: datetime | None
    source: str = "alertmanager"  # AlertRaised.source: alertmanager, pagerduty, webhook:<name>
    metric: str | None = None
    value: float | None = None
    # Not a state change: someone is on it (PagerDuty `acknowledge`). `firing` is then
    # False, so an alert not firing as far as the ingest knows needs no read at all.
    acknowledge: bool = False

    @property
    def sent_state(self) -> tuple[str, bool]:
        """What a re-send is recognised by (alert_ingest.py)."""
        return self.fingerprint, self.firing
