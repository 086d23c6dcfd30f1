"""The base of every contract payload (CloudEvent `data`). Adding optional fields is
compatible; anything else is a new version (`.v2`) published alongside the old one until
consumers move."""
from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    PRODUCER: ClassVar[str]
    AGGREGATE: ClassVar[str]
    EVENT: ClassVar[str]
    VERSION: ClassVar[int] = 1

    @classmethod
    def type_name(cls) -> str:
        """The CloudEvent type, which is also the NATS subject."""
        return f"closedloop.{cls.PRODUCER}.{cls.AGGREGATE}.{cls.EVENT}.v{cls.VERSION}"
