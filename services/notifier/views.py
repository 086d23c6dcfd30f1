"""What the notifier shows of its aggregates: API views and a delivery's attempt history
(read from the event log). Secrets never appear here."""
from __future__ import annotations

from typing import Any

from services.notifier.domain import Channel, Delivery, EscalationPolicy
from services.notifier.domain.routing import url_hint


def channel_view(channel: Channel) -> dict:
    return {"id": channel.id, "name": channel.name, "kind": str(channel.kind),
            "url": url_hint(channel.url),
            "has_secret": channel.has_secret, "header_names": sorted(channel.headers),
            "created_at": channel.registered_at}


def policy_view(policy: EscalationPolicy) -> dict:
    return {"id": policy.id, "name": policy.name,
            "severities": [str(s) for s in policy.severities], "notify": list(policy.notify),
            "escalate_after_seconds": policy.escalate_after_seconds,
            "escalate_to": list(policy.escalate_to), "created_at": policy.defined_at}


def delivery_view(delivery: Delivery) -> dict:
    return {"id": delivery.id, "incident_id": delivery.incident_id, "ref": delivery.ref,
            "channel_id": delivery.channel_id, "channel_name": delivery.channel_name,
            "reason": delivery.reason, "status": str(delivery.status),
            "attempts": delivery.attempts, "last_status_code": delivery.last_status_code,
            "last_error": delivery.last_error, "next_attempt_at": delivery.next_attempt_at,
            "updated_at": delivery.updated_at}


def attempt_history(events: list[Any]) -> list[dict]:
    attempts: dict[int, dict] = {}
    for event in events:
        if isinstance(event, Delivery.AttemptStarted):
            attempts[event.attempt] = {
                "attempt": event.attempt, "started_at": event.at, "outcome": "sending",
                "status_code": None, "error": None, "retryable": None, "finished_at": None,
                "next_attempt_at": None}
        elif isinstance(event, Delivery.Delivered):
            attempts[event.attempt].update(outcome="delivered", status_code=event.status_code,
                                           finished_at=event.at)
        elif isinstance(event, Delivery.AttemptFailed):
            attempts[event.attempt].update(
                outcome="failed", status_code=event.status_code, error=event.error,
                retryable=event.retryable, finished_at=event.at,
                next_attempt_at=event.next_attempt_at)
    return [attempts[n] for n in sorted(attempts)]
