"""Settings of the incidents service (environment variables prefixed CLOSEDLOOP_)."""
from __future__ import annotations

from shared.settings import ServiceSettings


class IncidentsSettings(ServiceSettings):
    service: str = "incidents"
    sla_poll_seconds: float = 1.0  # how often the SLA watch looks for missed deadlines
    sla_batch: int = 100
