"""The CloudEvents 1.0 envelope (structured JSON mode) every message on the bus travels in."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DEAD_LETTER_PREFIX = "closedloop.dlq"


class CloudEvent(BaseModel):
    """CloudEvents 1.0 attributes plus the `correlationid` / `causationid` extensions.

    `type` equals the NATS subject, e.g. `closedloop.incidents.incident.opened.v1`.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str = "1.0"
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    datacontenttype: str = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)
    correlationid: str | None = None
    causationid: str | None = None

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "CloudEvent":
        return cls.model_validate_json(raw)
