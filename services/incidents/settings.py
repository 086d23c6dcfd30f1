"""Settings of the incidents service (environment variables prefixed CLOSEDLOOP_)."""
from __future__ import annotations

from pydantic import Field, field_validator

from shared.ack_links import check_keys
from shared.errors import Invalid
from shared.settings import ServiceSettings

from services.incidents.domain.closing_policy import (
    DEFAULT_CLOSING_PATHS, ClosingPolicy, parse_closing_paths,
)


class IncidentsSettings(ServiceSettings):
    service: str = "incidents"
    sla_poll_seconds: float = 1.0  # how often the SLA watch looks for missed deadlines
    sla_batch: int = 100
    # Checks the one-click acknowledge links the notifier puts in pages (the notifier signs
    # with the same key). Comma-separated: every key verifies. Empty: the links are refused.
    ack_link_key: str = Field("", repr=False)

    # How a resolved incident closes, by severity (docs/adr/closing-paths.md): required (a
    # CAPA case closes it), optional (a person closes it with a note, or opens a case) or
    # observe:<length> (closes by itself when its alert stays clear that long; s, m, h, d).
    # A false positive always closes at once. CLOSEDLOOP_CLOSING_PATHS.
    closing_paths: str = DEFAULT_CLOSING_PATHS

    _check_ack_link_key = field_validator("ack_link_key")(check_keys)

    @field_validator("closing_paths")
    @classmethod
    def _check_closing_paths(cls, value: str) -> str:
        try:
            parse_closing_paths(value)
        except Invalid as error:  # pydantic reports ValueErrors with the variable's name
            raise ValueError(error.message) from None
        return value

    def closing_policy(self) -> ClosingPolicy:
        return parse_closing_paths(self.closing_paths)
