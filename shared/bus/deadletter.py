"""The dead-letter stream: messages a consumer refused, and references to stored events the relay
could not publish, each with the reason, where a person can list and replay them
(`closedloop dlq list|replay`)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.contracts import DEAD_LETTER_PREFIX

REASON = "Closedloop-Dlq-Reason"
ORIGINAL_SUBJECT = "Closedloop-Original-Subject"
ORIGINAL_STREAM = "Closedloop-Original-Stream"
ORIGINAL_SEQUENCE = "Closedloop-Original-Sequence"
CONSUMER = "Closedloop-Consumer"
REPLAY_FOR = "Closedloop-Replay-For"  # only this durable consumer takes a replayed message
RELAY_PREFIX = "relay:"  # CONSUMER of a relay dead letter: "relay:<service>"


def dead_letter_subject(service: str, subject: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{service}.{subject}"


def _header_value(text: str) -> str:
    """A reason fit for a NATS header: one line (a newline would end the header block)."""
    return " ".join(text.split())[:1000]


async def dead_letter(js: Any, service: str, consumer: str, msg: Any, reason: str) -> None:
    headers = {k: v for k, v in (msg.headers or {}).items() if k != "Nats-Msg-Id"}
    headers.update({
        REASON: _header_value(reason),
        ORIGINAL_SUBJECT: msg.subject,
        ORIGINAL_STREAM: msg.metadata.stream,
        ORIGINAL_SEQUENCE: str(msg.metadata.sequence.stream),
        CONSUMER: consumer,
        # One dead letter per original message, even if the term is retried.
        "Nats-Msg-Id": f"dlq:{consumer}:{msg.metadata.sequence.stream}",
    })
    await js.publish(dead_letter_subject(service, msg.subject), msg.data, headers=headers)


async def dead_letter_event(js: Any, service: str, notification_id: int, topic: str,
                            reason: str) -> None:
    """A stored event the relay could not publish, by reference: the event itself may be what
    is wrong (too big for NATS), so only where to find it travels, and it always fits."""
    reference = {"service": service, "notification_id": notification_id, "topic": topic,
                 "reason": reason[:2000]}
    await js.publish(dead_letter_subject(service, "relay"), json.dumps(reference).encode(), headers={
        REASON: _header_value(reason),
        ORIGINAL_SUBJECT: f"relay:{topic}",
        ORIGINAL_STREAM: f"{service} event store",
        ORIGINAL_SEQUENCE: str(notification_id),
        CONSUMER: f"{RELAY_PREFIX}{service}",
        # A batch retried after a crash dead-letters the same event once.
        "Nats-Msg-Id": f"dlq:relay:{service}:{notification_id}",
    })


@dataclass(frozen=True)
class DeadLetter:
    """One entry of the dead-letter stream, read for a person or a replay."""

    sequence: int
    time: datetime | None
    subject: str  # where the original went (or, from the relay, "relay:<event topic>")
    consumer: str  # the durable that refused it, or "relay:<service>"
    reason: str
    original_sequence: int  # stream sequence, or the notification id in the service's store
    msg: Any

    @classmethod
    def from_msg(cls, msg: Any) -> "DeadLetter":
        h = msg.headers or {}
        return cls(sequence=msg.seq, time=getattr(msg, "time", None),
                   subject=h.get(ORIGINAL_SUBJECT, ""), consumer=h.get(CONSUMER, ""),
                   reason=h.get(REASON, ""), original_sequence=int(h.get(ORIGINAL_SEQUENCE) or 0),
                   msg=msg)

    @property
    def relay_service(self) -> str | None:
        """The service whose relay could not publish the event, for relay dead letters."""
        return self.consumer[len(RELAY_PREFIX):] if self.consumer.startswith(RELAY_PREFIX) else None


async def replay(js: Any, dead_letter_msg: Any) -> None:
    """Publish a consumer's dead letter back to its original subject, as a new message."""
    headers = dict(dead_letter_msg.headers or {})
    subject = headers[ORIGINAL_SUBJECT]
    kept = {k: v for k, v in headers.items() if not k.startswith("Closedloop-")
            and k != "Nats-Msg-Id"}
    # Other consumers of the subject handled the original already: only the one that
    # dead-lettered it should see it again.
    await js.publish(subject, dead_letter_msg.data, headers={**kept, REPLAY_FOR: headers[CONSUMER]})
