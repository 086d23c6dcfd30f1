"""Notifier settings, read from CLOSEDLOOP_* environment variables."""
from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    service: str = "notifier"
    delivery_max_attempts: int = Field(5, ge=1, le=20)
    worker_poll_seconds: float = Field(0.1, gt=0)
    worker_batch: int = Field(50, ge=1)
    webhook_timeout_seconds: float = Field(5.0, gt=0)
