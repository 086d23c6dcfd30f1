"""Where messages go: channels, escalation policies, and the directory that lists them."""
from __future__ import annotations

import math
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, ChannelKind, Severity, key_id
from shared.errors import DomainError, Invalid

RESERVED_HEADER_PREFIX = "x-closedloop-"
RESERVED_HEADERS = {"content-type", "content-length", "host"}
MIN_SECRET_LENGTH = 16


def url_hint(url: str) -> str:
    """A channel URL as shown to people: chat-robot webhook paths carry tokens, so only the
    scheme and host are shown."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path.strip("/") or parts.query else url


class Channel(Aggregate):
    """A destination a message can be sent to. The secret signs every body (HMAC-SHA256)."""

    @staticmethod
    def create_id(name: str) -> UUID:
        return key_id(f"channel:{name}")

    @classmethod
    def register(cls, *, name: str, kind: str, url: str, secret: str,
                 headers: dict[str, str] | None, at: datetime, actor: str,
                 cause: Cause) -> "Channel":
        cls.check_definition(name=name, kind=kind, url=url, secret=secret, headers=headers or {})
        return cls(name=name, kind=str(kind), url=url, secret=secret,
                   headers=dict(headers or {}), at=at, actor=actor, cause=cause)

    @event("Registered")
    def __init__(self, name: str, kind: str, url: str, secret: str, headers: dict[str, str],
                 at: datetime, actor: str, cause: Cause) -> None:
        self.name, self.url, self.secret, self.headers = name, url, secret, headers
        self.kind = ChannelKind(kind)
        self.registered_at, self.registered_by = at, actor

    @property
    def has_secret(self) -> bool:
        return bool(self.secret)

    @staticmethod
    def check_definition(*, name: str, kind: str, url: str, secret: str,
                         headers: dict[str, str]) -> None:
        if not name.strip():
            raise InvalidChannel("name", "a channel needs a name")
        if kind not in ChannelKind.__members__.values():
            raise InvalidChannel("kind", f"{kind!r} is not one of {', '.join(ChannelKind)}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidChannel("url", f"{url!r} is not an http(s) URL")
        if len(secret or "") < MIN_SECRET_LENGTH:
            raise InvalidChannel("secret", f"the HMAC secret must have at least "
                                 f"{MIN_SECRET_LENGTH} characters")
        for header in headers:
            lowered = header.lower()
            if lowered.startswith(RESERVED_HEADER_PREFIX) or lowered in RESERVED_HEADERS:
                raise InvalidChannel("headers", f"{header} is set by the notifier itself; "
                                     "remove it from the channel's headers")


class EscalationPolicy(Aggregate):
    """Which severities it covers, who is told first, and who is told when nobody acks."""

    @staticmethod
    def create_id(name: str) -> UUID:
        return key_id(f"policy:{name}")

    @classmethod
    def define(cls, *, name: str, severities: list[str], notify: list[str],
               escalate_after_seconds: float, escalate_to: list[str], at: datetime,
               actor: str, cause: Cause) -> "EscalationPolicy":
        cls.check_definition(name=name, severities=severities, notify=notify,
                             escalate_after_seconds=escalate_after_seconds,
                             escalate_to=escalate_to)
        return cls(name=name, severities=[str(s) for s in severities],
                   notify=[str(c) for c in notify],
                   escalate_after_seconds=float(escalate_after_seconds),
                   escalate_to=[str(c) for c in escalate_to], at=at, actor=actor, cause=cause)

    @event("Defined")
    def __init__(self, name: str, severities: list[str], notify: list[str],
                 escalate_after_seconds: float, escalate_to: list[str], at: datetime,
                 actor: str, cause: Cause) -> None:
        self.name = name
        self.severities = [Severity(s) for s in severities]
        self.notify, self.escalate_to = notify, escalate_to
        self.escalate_after_seconds = escalate_after_seconds
        self.defined_at, self.defined_by = at, actor

    def matches(self, severity: str) -> bool:
        return severity in self.severities

    @staticmethod
    def check_definition(*, name: str, severities: list[str], notify: list[str],
                         escalate_after_seconds: float, escalate_to: list[str]) -> None:
        if not name.strip():
            raise InvalidPolicy("name", "a policy needs a name")
        if not severities:
            raise InvalidPolicy("severities", "list at least one severity (P0..P3)")
        unknown = [s for s in severities if s not in Severity.__members__.values()]
        if unknown:
            raise InvalidPolicy("severities", f"{', '.join(map(str, unknown))} is not one of "
                                f"{', '.join(Severity)}")
        if not notify:
            raise InvalidPolicy("notify", "list at least one channel to notify")
        for field, channels in (("notify", notify), ("escalate_to", escalate_to)):
            if len(set(map(str, channels))) != len(channels):
                raise InvalidPolicy(field, "a channel is listed twice")
        if not math.isfinite(escalate_after_seconds) or escalate_after_seconds <= 0:
            raise InvalidPolicy("escalate_after_seconds", "must be a positive number of "
                                f"seconds, got {escalate_after_seconds}")


DIRECTORY_ID = key_id("directory")


class Directory(Aggregate):
    """Lists every channel and policy, so a message handler can find them with get() calls
    instead of reading a table (handlers stay inside the event store)."""

    @staticmethod
    def create_id() -> UUID:
        return DIRECTORY_ID

    @event("Opened")
    def __init__(self, at: datetime, actor: str, cause: Cause) -> None:
        self.channel_ids: list[str] = []
        self.policy_ids: list[str] = []

    def list_channel(self, channel_id: UUID, at: datetime, actor: str, cause: Cause) -> None:
        if str(channel_id) not in self.channel_ids:
            self._list_channel(channel_id=str(channel_id), at=at, actor=actor, cause=cause)

    def list_policy(self, policy_id: UUID, at: datetime, actor: str, cause: Cause) -> None:
        if str(policy_id) not in self.policy_ids:
            self._list_policy(policy_id=str(policy_id), at=at, actor=actor, cause=cause)

    @event("ChannelListed")
    def _list_channel(self, channel_id: str, at: datetime, actor: str, cause: Cause) -> None:
        self.channel_ids.append(channel_id)

    @event("PolicyListed")
    def _list_policy(self, policy_id: str, at: datetime, actor: str, cause: Cause) -> None:
        self.policy_ids.append(policy_id)


class InvalidChannel(Invalid):
    """A channel definition breaks a rule (HTTP 422 naming the field)."""


class InvalidPolicy(Invalid):
    """A policy definition breaks a rule (HTTP 422 naming the field)."""


class UnknownChannel(Invalid):
    """A policy refers to a channel that was never registered."""


class NameTaken(DomainError):
    """Channel and policy names are unique (their ids derive from them)."""
