"""The dead-letter stream: poisoned messages with the reason, where a person can read and
replay them (`closedloop dlq list|replay`)."""
from __future__ import annotations

from typing import Any

from shared.contracts import DEAD_LETTER_PREFIX

REASON = "Closedloop-Dlq-Reason"
ORIGINAL_SUBJECT = "Closedloop-Original-Subject"
ORIGINAL_STREAM = "Closedloop-Original-Stream"
ORIGINAL_SEQUENCE = "Closedloop-Original-Sequence"
CONSUMER = "Closedloop-Consumer"
REPLAY_FOR = "Closedloop-Replay-For"  # only this durable consumer takes a replayed message


def dead_letter_subject(service: str, subject: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{service}.{subject}"


async def dead_letter(js: Any, service: str, consumer: str, msg: Any, reason: str) -> None:
    headers = {k: v for k, v in (msg.headers or {}).items() if k != "Nats-Msg-Id"}
    headers.update({
        REASON: reason[:1000],
        ORIGINAL_SUBJECT: msg.subject,
        ORIGINAL_STREAM: msg.metadata.stream,
        ORIGINAL_SEQUENCE: str(msg.metadata.sequence.stream),
        CONSUMER: consumer,
        # One dead letter per original message, even if the term is retried.
        "Nats-Msg-Id": f"dlq:{consumer}:{msg.metadata.sequence.stream}",
    })
    await js.publish(dead_letter_subject(service, msg.subject), msg.data, headers=headers)


async def dead_letter_event(js: Any, service: str, notification: Any, reason: str) -> None:
    """A stored event the relay cannot turn into a contract: kept, with why, for a person."""
    await js.publish(dead_letter_subject(service, "relay"), bytes(notification.state), headers={
        REASON: reason[:1000],
        ORIGINAL_SUBJECT: f"relay:{notification.topic}",
        ORIGINAL_STREAM: f"{service} event store",
        ORIGINAL_SEQUENCE: str(notification.id),
        CONSUMER: f"relay:{service}",
        "Nats-Msg-Id": f"dlq:relay:{service}:{notification.id}",
    })


async def replay(js: Any, dead_letter_msg: Any) -> None:
    """Publish a dead letter's body back to its original subject, as a new message."""
    headers = dict(dead_letter_msg.headers or {})
    subject = headers[ORIGINAL_SUBJECT]
    kept = {k: v for k, v in headers.items() if not k.startswith("Closedloop-")
            and k != "Nats-Msg-Id"}
    # Other consumers of the subject handled the original already: only the one that
    # dead-lettered it should see it again.
    await js.publish(subject, dead_letter_msg.data, headers={**kept, REPLAY_FOR: headers[CONSUMER]})
