"""Notifier settings, read from CLOSEDLOOP_* environment variables."""
from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, PrivateAttr, field_validator

from services.notifier.channels.egress import EgressPolicy
from services.notifier.contact_limits import DEFAULT as DEFAULT_LIMITS
from services.notifier.contact_limits import ContactLimits, parse_limits
from services.notifier.messages.render import Renderer
from services.notifier.messages.templates import check_overrides
from shared.ack_links import check_keys
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

    # Per-person rate limits by medium (contact_limits.py): "<medium>=<count>/<window>,…".
    contact_limits: str = Field(DEFAULT_LIMITS, validation_alias=AliasChoices(
        "contact_limits", "CLOSEDLOOP_NOTIFIER_CONTACT_LIMITS"))
    # Threads Apprise sends in (its sends block); one channel may use a quarter of them.
    apprise_threads: int = Field(16, ge=1, le=256, validation_alias=AliasChoices(
        "apprise_threads", "CLOSEDLOOP_APPRISE_THREADS"))

    @field_validator("contact_limits")
    @classmethod
    def _parse_limits(cls, value: str) -> str:
        parse_limits(value)  # refuse a bad entry at start-up, naming it
        return value

    @property
    def limits(self) -> ContactLimits:
        return ContactLimits(parse_limits(self.contact_limits))
    # Signs the one-click acknowledge link in each page to a person (the incidents service
    # checks it with the same key): comma-separated, the first signs. Links need public_url
    # too; either empty, pages carry none.
    ack_link_key: str = Field("", repr=False)
    ack_link_hours: float = Field(24.0, gt=0, le=24 * 30)  # how long a link works

    _check_ack_link_key = field_validator("ack_link_key")(check_keys)

    # An operator's message templates, laid out as the shipped ones (docs/messages.md): each
    # is compiled at start-up, and one that does not compile refuses it, naming file and line.
    templates_dir: str = Field("", validation_alias=AliasChoices(
        "templates_dir", "CLOSEDLOOP_TEMPLATES_DIR"))
    _renderer: Renderer | None = PrivateAttr(None)

    @field_validator("templates_dir")
    @classmethod
    def _check_templates(cls, value: str) -> str:
        if value:
            check_overrides(Path(value))
        return value

    def message_renderer(self) -> Renderer:
        """One renderer per settings: templates are compiled once, then cached."""
        if self._renderer is None:
            self._renderer = Renderer(self.templates_dir or None)
        return self._renderer

    @field_validator("allowed_networks")
    @classmethod
    def _parse_networks(cls, value: str) -> str:
        EgressPolicy.parse(value)  # refuse a bad entry at start-up, naming it
        return value

    @property
    def egress(self) -> EgressPolicy:
        return EgressPolicy.parse(self.allowed_networks)
