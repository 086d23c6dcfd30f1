"""Settings of the incidents service (environment variables prefixed CLOSEDLOOP_)."""
from __future__ import annotations

from pydantic import Field, field_validator

from shared.ack_links import check_keys
from shared.settings import ServiceSettings


class IncidentsSettings(ServiceSettings):
    service: str = "incidents"
    sla_poll_seconds: float = 1.0  # how often the SLA watch looks for missed deadlines
    sla_batch: int = 100
    # Checks the one-click acknowledge links the notifier puts in pages (the notifier signs
    # with the same key). Comma-separated: every key verifies. Empty: the links are refused.
    ack_link_key: str = Field("", repr=False)

    _check_ack_link_key = field_validator("ack_link_key")(check_keys)
