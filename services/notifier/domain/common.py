"""Vocabulary shared by the notifier's aggregates: the id namespace, severities, reasons."""
from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from shared.contracts.vocabulary import Severity  # noqa: F401 (re-exported)

# Every notifier aggregate id is uuid5(NAMESPACE, upstream key), so a redelivered message
# reaches the aggregate it created the first time.
NAMESPACE = UUID("5d6c0c44-4f0e-5d43-9a43-6e6f74696669")

Cause = dict[str, Any]


def key_id(key: str) -> UUID:
    return uuid5(NAMESPACE, key)


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"


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
    UNKNOWN = "unknown"
