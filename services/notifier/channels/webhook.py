"""Outbound webhooks: a JSON body signed with HMAC-SHA256 of the raw bytes, so the receiver
can prove it came from us and was not altered."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import aiohttp

from services.notifier.channels.base import ErrorClass, Notification, Outcome, Target
from services.notifier.channels.egress import DestinationRefused
from services.notifier.channels.transport import drain
from services.notifier.messages.drill import is_drill

SIGNATURE_HEADER = "X-Closedloop-Signature"
PREVIOUS_SIGNATURE_HEADER = "X-Closedloop-Signature-Previous"
TIMESTAMP_HEADER = "X-Closedloop-Timestamp"
DELIVERY_HEADER = "X-Closedloop-Delivery"
ATTEMPT_HEADER = "X-Closedloop-Attempt"
# Statuses worth trying again: the receiver timed out, throttled us, or broke for a while.
RETRYABLE_STATUSES = {408, 429}


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(notification: Notification, sent_at: datetime) -> bytes:
    # sent_at is inside the signed body, so a replayed request can be recognised by age.
    document: dict[str, Any] = {
        "delivery_id": notification.delivery_id,
        "attempt": notification.attempt,
        "reason": notification.reason,
        "incident": notification.incident,
        "occurred_at": notification.occurred_at.isoformat(),
        "sent_at": sent_at.isoformat(),
    }
    if notification.recipient:  # a message for one person: the receiver routes it to them
        document["recipient"] = notification.recipient
    if notification.about:  # a chase: which deadline, about what, due when
        document["about"] = notification.about
    if notification.ack_url:  # a page: opening it acknowledges as the recipient
        document["ack_url"] = notification.ack_url
    if is_drill(notification):  # an exercise (演练): the receiver must not take it for real
        document["drill"] = True
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def is_retryable(status_code: int) -> bool:
    return status_code >= 500 or status_code in RETRYABLE_STATUSES


class WebhookChannel:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def send(self, target: Target, notification: Notification,
                   sent_at: datetime) -> Outcome:
        body = body_of(notification, sent_at)
        headers = {
            **target.headers,
            "Content-Type": "application/json",
            "User-Agent": "closedloop-notifier/1",
            SIGNATURE_HEADER: sign(target.secret, body),
            TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
            DELIVERY_HEADER: notification.delivery_id,
            ATTEMPT_HEADER: str(notification.attempt),
        }
        if target.previous_secret:
            headers[PREVIOUS_SIGNATURE_HEADER] = sign(target.previous_secret, body)
        try:
            # Redirects are not followed: a 3xx is a final answer.
            async with self.session.post(target.url, data=body, headers=headers,
                                         allow_redirects=False) as response:
                await drain(response)
                status = response.status
        except DestinationRefused as refused:
            # Policy, not weather: trying again gives the same answer.
            return Outcome.failure(str(refused), ErrorClass.DESTINATION_REFUSED, retryable=False)
        except TimeoutError:  # aiohttp's timeouts are TimeoutErrors
            return Outcome.failure("the receiver did not answer in time", ErrorClass.TIMEOUT,
                                   retryable=True)
        except aiohttp.ClientError as error:
            # Connection refused, DNS, TLS…: the network may recover.
            return Outcome.failure(f"{type(error).__name__}: {error}", ErrorClass.NETWORK,
                                   retryable=True)
        if 200 <= status < 300:
            return Outcome.success(status)
        return Outcome.failure(f"the receiver answered HTTP {status}", ErrorClass.HTTP_STATUS,
                               retryable=is_retryable(status), status_code=status)
