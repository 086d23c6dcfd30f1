"""Vocabulary shared by the notifier's aggregates: the id namespace, severities, reasons."""
from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from shared.contracts.vocabulary import Severity  # noqa: F401 (re-exported)

# Every notifier aggregate id is uuid5(NAMESPACE, upstream key), so a redelivered message
# reaches the aggregate it created the first time.
NAMESPACE = UUID("5d6c0c44-4f0e-5d43-9a43-6e6f74696669")

Cause = dict[str, Any]


@lru_cache(maxsize=65536)
def key_id(key: str) -> UUID:
    # Cached: every message of a storm derives the same few ids of its incident several times.
    return uuid5(NAMESPACE, key)


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"  # our own signed JSON, for machines
    # Chat robots, through Apprise (channels/apprise_channel.py).
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    FEISHU = "feishu"  # Feishu or Lark
    SLACK = "slack"
    TEAMS = "teams"  # Microsoft Teams through a Workflows (Power Automate) webhook
    APPRISE = "apprise"  # any Apprise URL, for services without a kind of their own
    EMAIL = "email"  # SMTP with TLS (channels/email.py)
    SMS = "sms"  # an SMS gateway Apprise speaks to


# What each kind sends, which decides how a message is rendered for it.
MEDIUM_OF_KIND = {
    ChannelKind.WEBHOOK: "webhook", ChannelKind.EMAIL: "email", ChannelKind.SMS: "sms",
    ChannelKind.WECOM: "chat", ChannelKind.DINGTALK: "chat", ChannelKind.FEISHU: "chat",
    ChannelKind.SLACK: "chat", ChannelKind.TEAMS: "chat", ChannelKind.APPRISE: "chat",
}
# The medium a person's contact on a channel of this kind must be (a step that reaches a
# person there needs such a contact). Webhooks and generic Apprise URLs take any: the
# receiver (a machine, or the URL's own target) decides what the address means.
CONTACT_MEDIUM = {kind: medium for kind, medium in MEDIUM_OF_KIND.items()
                  if kind not in (ChannelKind.WEBHOOK, ChannelKind.APPRISE)}


class Reason(StrEnum):
    """Why a message is sent; part of the delivery id and of the public contract."""

    INCIDENT_OPENED = "incident.opened"
    ESCALATION_STEP1 = "escalation.step1"


class ErrorClass(StrEnum):
    """What kind of failure an attempt met: all that viewers are shown (the detailed error
    can name internal hosts and addresses, so it is for managers)."""

    TIMEOUT = "timeout"
    NETWORK = "network"
    HTTP_STATUS = "http_status"
    DESTINATION_REFUSED = "destination_refused"
    CHANNEL_DISABLED = "channel_disabled"
    INTERRUPTED = "interrupted"
    THROTTLED = "throttled"  # held back by the person's rate limit (not a failure)
    REJECTED = "rejected"  # the receiver refused the message itself (bad token, bad body)
    # A chat robot took the request (HTTP 200) and refused the message in its answer: an
    # errcode or code other than 0 (a failed keyword or signature check, a rate limit).
    REFUSED_BY_ROBOT = "refused_by_robot"
    UNKNOWN = "unknown"
