"""Settings of the capa service (environment variables prefixed CLOSEDLOOP_)."""
from __future__ import annotations

from shared.settings import ServiceSettings


class CapaSettings(ServiceSettings):
    """Only the common settings so far; the schema and stream names follow `service`."""

    service: str = "capa"
