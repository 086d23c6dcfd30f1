"""What each channel kind accepts as a URL, checked when a channel is defined: an Apprise URL
Apprise can parse, of the service the kind names; an SMTP URL for e-mail. The answer is the
URL as people may see it, with tokens and passwords masked."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit, urlunsplit

from services.notifier.domain import ChannelKind, InvalidChannel
from services.notifier.domain.channel import url_hint

# Apprise plugins (module names) each kind may use. `apprise` takes any; `sms` the SMS
# gateways Apprise speaks to.
PLUGINS: dict[ChannelKind, frozenset[str] | None] = {
    ChannelKind.WECOM: frozenset({"wecombot"}),
    ChannelKind.DINGTALK: frozenset({"dingtalk"}),
    ChannelKind.FEISHU: frozenset({"feishu", "lark"}),
    ChannelKind.SLACK: frozenset({"slack"}),
    ChannelKind.TEAMS: frozenset({"workflows"}),
    ChannelKind.APPRISE: None,
    ChannelKind.SMS: frozenset({
        "africas_talking", "bulksms", "bulkvs", "burstsms", "clickatell", "clicksend", "d7networks",
        "fortysixelks", "httpsms", "kavenegar", "messagebird", "msg91", "plivo", "seven",
        "sinch", "smpp", "smsc", "smseagle", "smsmanager", "serwersms", "smstunnel",
        "telnyx", "twilio", "vonage"}),
}
EXAMPLES = {
    ChannelKind.EMAIL: "smtps://user:password@host:465/?from=alerts@example.com",
    ChannelKind.WECOM: "wecombot://<key>",
    ChannelKind.DINGTALK: "dingtalk://<token>/ or dingtalk://<secret>@<token>/",
    ChannelKind.FEISHU: "feishu://<token> or lark://<token>",
    ChannelKind.SLACK: "slack://<TokenA>/<TokenB>/<TokenC> or the hooks.slack.com URL",
    ChannelKind.TEAMS: "workflows://<host>:<port>/<workflow>/<signature>",
    ChannelKind.APPRISE: "any Apprise URL, e.g. ntfy://topic or json://host/path",
    ChannelKind.SMS: "an SMS gateway's Apprise URL, e.g. twilio://<sid>:<token>@<from>",
}
# A stand-in recipient: an SMS channel's URL names no one (each message is for the person it
# is sent to), but most gateways' URLs do not parse without a target.
PROBE_NUMBER = "+10000000000"
EMAIL_SCHEMES = ("smtp", "smtps")


@dataclass(frozen=True)
class EmailUrl:
    """smtps://user:password@host:465/?from=alerts@example.com (TLS from the first byte) or
    smtp://…:587/?from=… (STARTTLS, required: nothing is sent in clear)."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None
    sender: str
    to: str | None  # who is told when the message is for the channel, not a person

    @classmethod
    def parse(cls, url: str) -> "EmailUrl":
        parts = urlsplit(url)
        if parts.scheme not in EMAIL_SCHEMES or not parts.hostname:
            raise InvalidChannel("url", "an email channel's URL is smtps://user:password@host"
                                 ":465/?from=alerts@example.com (or smtp://…:587 for STARTTLS)")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        sender = query.get("from", "")
        if "@" not in sender:
            raise InvalidChannel("url", "say who the mail is from: add ?from=alerts@example.com "
                                 "to the URL")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 587)
        except ValueError:
            raise InvalidChannel("url", "the port must be a number from 1 to 65535") from None
        return cls(parts.hostname, port, parts.scheme == "smtps",
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None, sender, query.get("to"))

    def masked(self) -> str:
        who = f"{self.username}:****@" if self.password else (
            f"{self.username}@" if self.username else "")
        query = urlencode({"from": self.sender, **({"to": self.to} if self.to else {})})
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"{scheme}://{who}{self.host}:{self.port}/?{query}"


def with_recipient(url: str, address: str) -> str:
    """An SMS gateway URL sending to this number (Apprise's `to=` query parameter)."""
    parts = urlsplit(url)
    query = f"{parts.query}&to={quote(address)}" if parts.query else f"to={quote(address)}"
    return urlunsplit(parts._replace(query=query))


def apprise_plugin(kind: ChannelKind, url: str):  # -> apprise's NotifyBase
    """The Apprise plugin for this channel URL, or InvalidChannel naming the fix."""
    import apprise

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        raise InvalidChannel("url", f"Apprise cannot read this URL as a {kind} channel "
                             f"(secrets not echoed); expected {EXAMPLES[kind]}")
    allowed = PLUGINS[kind]
    module = type(plugin).__module__.rsplit(".", 1)[-1]
    if allowed is not None and module not in allowed:
        raise InvalidChannel("url", f"this is a {plugin.service_name} URL, not a {kind} one; "
                             f"use kind {ChannelKind.APPRISE} for it, or a URL like "
                             f"{EXAMPLES[kind]}")
    return plugin


@dataclass(frozen=True)
class Checked:
    hint: str | None  # the URL as people may see it; None for a webhook (its own hint)
    host: str | None  # the host the URL names, when it names one (not a token or a number)


def check_url(kind: ChannelKind, url: str) -> Checked:
    """Check a channel's URL for its kind. Raises InvalidChannel naming the field and the
    fix."""
    try:
        return _checked(kind, url)
    except ValueError as error:  # urllib's own refusals: a bad port, an unclosed [IPv6
        if isinstance(error, InvalidChannel):
            raise
        raise InvalidChannel("url", f"this is not a URL ({error}); expected "
                             f"{EXAMPLES.get(kind, 'https://…')}") from None


def _checked(kind: ChannelKind, url: str) -> Checked:
    if kind is ChannelKind.WEBHOOK:
        return Checked(None, urlsplit(url).hostname)
    if kind is ChannelKind.EMAIL:
        email = EmailUrl.parse(url)
        return Checked(email.masked(), email.host)
    probe = url
    if kind is ChannelKind.SMS and "to=" not in url:
        probe = with_recipient(url, PROBE_NUMBER)
    plugin = apprise_plugin(kind, probe)
    masked = plugin.url(privacy=True)
    if probe is not url:
        masked = masked.replace(quote(PROBE_NUMBER, safe=""), "")
    # Apprise's own options (retry=0&wait=…) only make the shown URL longer, and a generic
    # URL's path and query can hold what Apprise does not know to mask (a json:// header).
    masked = masked.split("?", 1)[0] if kind is not ChannelKind.APPRISE else url_hint(masked)
    # Only some services' URLs name a host (self-hosted ones); in the others the "host" is a
    # token or a phone number, and the service's own host is fixed.
    host = plugin.host if "host" in type(plugin).template_tokens else None
    return Checked(masked, host)
