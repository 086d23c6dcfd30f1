"""A channel: where a message can be sent, the secret that signs it, and who changed it.
Secrets and header values arrive here in clear, are checked, and are kept only sealed (the
caller passes the sealing function, so the aggregate stays free of keys and I/O)."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, ChannelKind, key_id
from shared.errors import Invalid

Seal = Callable[[str], str]

RESERVED_HEADER_PREFIX = "x-closedloop-"
# Set by the notifier or by HTTP itself: a channel that could set them could forge a
# signature, smuggle a second request or talk to a proxy.
RESERVED_HEADERS = {
    "host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive",
    "upgrade", "te", "trailer", "expect", "proxy-authorization", "proxy-connection",
    "user-agent",
}
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
MAX_HEADERS = 20
MAX_HEADER_VALUE = 2000
MIN_SECRET_LENGTH = 16
MAX_GRACE = timedelta(days=7)


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
    def register(cls, *, name: str, kind: str, url: str, secret: str | None,
                 headers: dict[str, str] | None, seal: Seal, at: datetime, actor: str,
                 cause: Cause, id: UUID | None = None,  # noqa: A002
                 hint: str | None = None) -> "Channel":
        """`hint`: the URL as people may see it, tokens masked (the caller parsed it)."""
        headers = dict(headers or {})
        cls.check_name(name)
        cls.check_kind(kind)
        kind = ChannelKind(kind)
        cls.check_url(kind, url)
        if kind is ChannelKind.WEBHOOK or secret:
            cls.check_secret(secret or "")
        cls.check_headers(kind, headers)
        fields = dict(name=name, kind=str(kind), url=cls.sealed_url(kind, url, seal),
                      secret=seal(secret) if secret else "",
                      headers={k: seal(v) for k, v in headers.items()}, at=at, actor=actor,
                      cause=cause, hint=hint)
        # An explicit id when the name's own id is still held by a since-renamed channel.
        return cls._create(cls.Registered, id=id, **fields) if id else cls(**fields)

    @event("Registered")
    def __init__(self, name: str, kind: str, url: str, secret: str, headers: dict[str, str],
                 at: datetime, actor: str, cause: Cause, hint: str | None = None) -> None:
        self.name, self.url, self.secret, self.headers = name, url, secret, headers
        self.kind = ChannelKind(kind)
        # Apprise and e-mail URLs carry tokens and passwords: the URL is sealed like a
        # secret and people are shown this masked form instead.
        self.hint = hint
        self.registered_at, self.registered_by = at, actor
        self.enabled, self.disabled_why = True, None
        self.previous_secret: str | None = None
        self.previous_until: datetime | None = None
        self.updated_at, self.updated_by = at, actor

    @staticmethod
    def sealed_url(kind: ChannelKind, url: str, seal: Seal) -> str:
        """A webhook's URL is shown (its hint) and kept in clear; every other kind's URL
        holds the credentials themselves and is sealed."""
        return url if kind is ChannelKind.WEBHOOK else seal(url)

    @property
    def shown_url(self) -> str:
        return self.hint or url_hint(self.url)

    @property
    def has_secret(self) -> bool:
        return bool(self.secret)

    def previous_secret_at(self, at: datetime) -> str | None:
        """The rotated-out secret (sealed) while its grace window lasts."""
        if self.previous_until is not None and at < self.previous_until:
            return self.previous_secret
        return None

    # -- commands -------------------------------------------------------------------------
    def update(self, *, name: str | None, url: str | None, headers: dict[str, str] | None,
               seal: Seal, at: datetime, actor: str, cause: Cause,
               hint: str | None = None) -> bool:
        """Change what is given; False (no event) when nothing would change."""
        if name is not None:
            self.check_name(name)
        if url is not None:
            self.check_url(self.kind, url)
        if headers is not None:
            self.check_headers(self.kind, headers)
        name = None if name == self.name else name
        url = None if url == self.url else url
        if name is None and url is None and headers is None:
            return False
        self._update(name=name, url=None if url is None else self.sealed_url(self.kind, url, seal),
                     headers=None if headers is None else {k: seal(v) for k, v in headers.items()},
                     at=at, actor=actor, cause=cause, hint=hint if url is not None else None)
        return True

    def disable(self, why: str, at: datetime, actor: str, cause: Cause) -> bool:
        if not self.enabled:
            return False
        self._disable(why=why, at=at, actor=actor, cause=cause)
        return True

    def enable(self, at: datetime, actor: str, cause: Cause) -> bool:
        if self.enabled:
            return False
        self._enable(at=at, actor=actor, cause=cause)
        return True

    def rotate_secret(self, secret: str, grace: timedelta, seal: Seal, at: datetime,
                      actor: str, cause: Cause) -> None:
        """A new signing secret. With a grace window the old one also signs (in a second
        header) until it ends, so receivers can switch without losing a message."""
        if self.kind is not ChannelKind.WEBHOOK:
            raise InvalidChannel("kind", f"a {self.kind} channel signs nothing; only webhook "
                                 "channels have a secret to rotate (change the URL instead)")
        self.check_secret(secret)
        self.check_grace(grace)
        self._rotate_secret(secret=seal(secret),
                            previous_secret=self.secret if grace else None,
                            previous_until=at + grace if grace else None,
                            at=at, actor=actor, cause=cause)

    # -- events ---------------------------------------------------------------------------
    @event("Updated")
    def _update(self, name: str | None, url: str | None, headers: dict[str, str] | None,
                at: datetime, actor: str, cause: Cause, hint: str | None = None) -> None:
        self.name = self.name if name is None else name
        if url is not None:
            self.url, self.hint = url, hint
        self.headers = self.headers if headers is None else headers
        self.updated_at, self.updated_by = at, actor

    @event("Disabled")
    def _disable(self, why: str, at: datetime, actor: str, cause: Cause) -> None:
        self.enabled, self.disabled_why = False, why
        self.updated_at, self.updated_by = at, actor

    @event("Enabled")
    def _enable(self, at: datetime, actor: str, cause: Cause) -> None:
        self.enabled, self.disabled_why = True, None
        self.updated_at, self.updated_by = at, actor

    @event("SecretRotated")
    def _rotate_secret(self, secret: str, previous_secret: str | None,
                       previous_until: datetime | None, at: datetime, actor: str,
                       cause: Cause) -> None:
        self.secret, self.previous_secret = secret, previous_secret
        self.previous_until = previous_until
        self.updated_at, self.updated_by = at, actor

    # -- guards ---------------------------------------------------------------------------
    @staticmethod
    def check_name(name: str) -> None:
        if not name.strip():
            raise InvalidChannel("name", "a channel needs a name")

    @staticmethod
    def check_kind(kind: str) -> None:
        if kind not in ChannelKind.__members__.values():
            raise InvalidChannel("kind", f"{kind!r} is not one of {', '.join(ChannelKind)}")

    @staticmethod
    def check_url(kind: ChannelKind, url: str) -> None:
        """A webhook's URL here; other kinds' URLs are parsed by the service before the
        aggregate sees them (channel_urls.py), which needs Apprise."""
        if kind is not ChannelKind.WEBHOOK:
            if not url.strip():
                raise InvalidChannel("url", f"a {kind} channel needs its URL")
            return
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidChannel("url", f"{url!r} is not an http(s) URL")
        if parts.username or parts.password:
            raise InvalidChannel("url", "credentials in the URL would be shown to people; "
                                 "send them in a header (e.g. Authorization) instead")

    @staticmethod
    def check_secret(secret: str) -> None:
        if len(secret or "") < MIN_SECRET_LENGTH:
            raise InvalidChannel("secret", f"the HMAC secret must have at least "
                                 f"{MIN_SECRET_LENGTH} characters")

    @staticmethod
    def check_headers(kind: ChannelKind, headers: dict[str, str]) -> None:
        if headers and kind is not ChannelKind.WEBHOOK:
            raise InvalidChannel("headers", f"a {kind} channel sends no headers of ours; "
                                 "remove them (its URL says all it needs)")
        if len(headers) > MAX_HEADERS:
            raise InvalidChannel("headers", f"at most {MAX_HEADERS} headers per channel")
        for header, value in headers.items():
            lowered = header.lower()
            if lowered.startswith(RESERVED_HEADER_PREFIX) or lowered in RESERVED_HEADERS:
                raise InvalidChannel("headers", f"{header} is set by the notifier or by HTTP "
                                     "itself; remove it from the channel's headers")
            if not HEADER_NAME.match(header):
                raise InvalidChannel("headers", f"{header!r} is not a valid header name")
            if any(c in value for c in "\r\n\0") or len(value) > MAX_HEADER_VALUE:
                raise InvalidChannel("headers", f"the value of {header} must be one line of "
                                     f"at most {MAX_HEADER_VALUE} characters")

    @staticmethod
    def check_grace(grace: timedelta) -> None:
        if grace < timedelta(0) or grace > MAX_GRACE:
            raise InvalidChannel("grace_seconds", "the old secret may keep signing for 0 "
                                 f"to {int(MAX_GRACE.total_seconds())} seconds")


class InvalidChannel(Invalid):
    """A channel definition breaks a rule (HTTP 422 naming the field)."""
