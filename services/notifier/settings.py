"""Notifier settings, read from CLOSEDLOOP_* environment variables."""
from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator

from services.notifier.channels.egress import EgressPolicy
from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    service: str = "notifier"
    delivery_max_attempts: int = Field(5, ge=1, le=20)
    worker_poll_seconds: float = Field(0.1, gt=0)
    # Attempts one replica claims in one transaction and has in flight at most.
    worker_batch: int = Field(200, ge=1)
    # Due escalations one replica fires in one transaction (CLOSEDLOOP_ESCALATION_BATCH):
    # a commit per step held a storm of due steps to ~60 a second (adr/escalation-batches.md).
    escalation_batch: int = Field(50, ge=1)
    # Sends in flight at once to one channel (a receiver is not flooded by a storm).
    channel_concurrency: int = Field(32, ge=1)
    webhook_timeout_seconds: float = Field(5.0, gt=0)
    # Internal destinations a channel may reach: CIDRs and host names, comma-separated.
    # Empty (the default) means public addresses only.
    allowed_networks: str = Field("", validation_alias=AliasChoices(
        "allowed_networks", "CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS"))
    # Fernet keys, comma-separated: the first seals channel secrets and headers, all open them.
    secrets_key: str = Field("", repr=False, validation_alias=AliasChoices(
        "secrets_key", "CLOSEDLOOP_NOTIFIER_SECRETS_KEY"))

    # Where people open the console and one-click links: incident links and acknowledge links
    # in messages start with it. Empty: messages carry no links.
    public_url: str = Field("", validation_alias=AliasChoices(
        "public_url", "CLOSEDLOOP_PUBLIC_URL"))

    @field_validator("allowed_networks")
    @classmethod
    def _parse_networks(cls, value: str) -> str:
        EgressPolicy.parse(value)  # refuse a bad entry at start-up, naming it
        return value

    @property
    def egress(self) -> EgressPolicy:
        return EgressPolicy.parse(self.allowed_networks)
