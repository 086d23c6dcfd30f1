"""Settings of the incidents service (environment variables prefixed CLOSEDLOOP_)."""
from __future__ import annotations

from pydantic import Field, field_validator

from shared.ack_links import check_keys
from shared.settings import ServiceSettings

from services.incidents.sla_policies import load_policies


class IncidentsSettings(ServiceSettings):
    service: str = "incidents"
    sla_poll_seconds: float = 1.0  # how often the SLA watch looks for missed deadlines
    sla_batch: int = 100
    # SLA policies and calendars (YAML or JSON, docs/deployment.md); empty: the shipped
    # defaults. Checked when the settings load: a bad file stops the start naming the field.
    sla_policies_file: str = ""
    # Checks the one-click acknowledge links the notifier puts in pages (the notifier signs
    # with the same key). Comma-separated: every key verifies. Empty: the links are refused.
    ack_link_key: str = Field("", repr=False)

    _check_ack_link_key = field_validator("ack_link_key")(check_keys)

    @field_validator("sla_policies_file")
    @classmethod
    def _check_sla_policies(cls, value: str) -> str:
        load_policies(value)  # SlaPolicyError is a ValueError: pydantic names the setting
        return value
