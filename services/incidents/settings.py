"""Settings of the incidents service (environment variables prefixed CLOSEDLOOP_)."""
from __future__ import annotations

from shared.settings import ServiceSettings


class IncidentsSettings(ServiceSettings):
    service: str = "incidents"
