"""What the notifier shows of its aggregates: API views and a delivery's attempt history
(read from the event log). Secrets never appear here; detailed errors only for managers."""
from __future__ import annotations

from typing import Any

from services.notifier.domain import Channel, Delivery, EscalationPolicy, ErrorClass

# What a viewer reads instead of the detailed error, which can name internal hosts,
# addresses and ports (and so would turn deliveries into a network scanner's report).
GENERIC_ERRORS = {
    ErrorClass.TIMEOUT: "the receiver did not answer in time",
    ErrorClass.NETWORK: "the receiver could not be reached",
    ErrorClass.HTTP_STATUS: "the receiver answered with an error status",
    ErrorClass.DESTINATION_REFUSED: "the destination is not allowed by the egress policy",
    ErrorClass.INTERRUPTED: "the sending worker stopped before reporting",
    ErrorClass.REJECTED: "the receiver did not accept the message",
    ErrorClass.REFUSED_BY_ROBOT: "the chat robot refused the message in its answer",
    ErrorClass.THROTTLED: "held back by the person's rate limit",
    ErrorClass.UNKNOWN: "the attempt failed",
}
DETAILS_FOR = " (details for managers)"


def channel_view(channel: Channel) -> dict:
    return {"id": channel.id, "name": channel.name, "kind": str(channel.kind),
            "url": channel.shown_url,
            "has_secret": channel.has_secret, "header_names": sorted(channel.headers),
            "enabled": channel.enabled, "disabled_why": channel.disabled_why,
            "created_at": channel.registered_at, "updated_at": channel.updated_at}


def policy_view(policy: EscalationPolicy) -> dict:
    return {"id": policy.id, **policy.definition, **policy.shorthand, "enabled": policy.enabled,
            "disabled_why": policy.disabled_why, "created_at": policy.defined_at,
            "updated_at": policy.updated_at}


def delivery_view(delivery: Delivery) -> dict:
    return {"id": delivery.id, "incident_id": delivery.incident_id, "ref": delivery.ref,
            "channel_id": delivery.channel_id, "channel_name": delivery.channel_name,
            "reason": delivery.reason, "status": str(delivery.status),
            "person": (delivery.recipient or {}).get("handle"), "target": delivery.target,
            "attempts": delivery.attempts, "last_status_code": delivery.last_status_code,
            "last_error": delivery.last_error, "last_error_class": delivery.last_error_class,
            "next_attempt_at": delivery.next_attempt_at, "created_at": delivery.scheduled_at,
            "updated_at": delivery.updated_at}


def generic_error(error: str | None, error_class: str | None) -> str | None:
    if error is None or error_class == ErrorClass.CHANNEL_DISABLED:
        return error  # a skip's reason was written by a manager for people to read
    known = error_class if error_class in ErrorClass.__members__.values() else ErrorClass.UNKNOWN
    return GENERIC_ERRORS[ErrorClass(known)] + DETAILS_FOR


def for_viewer(delivery: dict) -> dict:
    """A delivery (with or without history) as a viewer may see it."""
    shown = {**delivery,
             "last_error": generic_error(delivery.get("last_error"),
                                         delivery.get("last_error_class"))}
    if "history" in delivery:
        shown["history"] = [{**a, "error": generic_error(a["error"], a["error_class"])}
                            for a in delivery["history"]]
    return shown


def attempt_history(events: list[Any]) -> list[dict]:
    """Every attempt, and what was no attempt (skipped, held back by the person's rate
    limit, folded into another message), in the order it happened."""
    history: list[dict] = []
    attempts: dict[int, dict] = {}

    def entry(outcome: str, at: Any, **fields: Any) -> dict:
        found = {"attempt": None, "started_at": at, "outcome": outcome, "status_code": None,
                 "error": None, "error_class": None, "retryable": None, "finished_at": at,
                 "next_attempt_at": None, "folded": [], "fallback_reason": None, **fields}
        history.append(found)
        return found

    for event in events:
        if isinstance(event, Delivery.AttemptStarted):
            attempts[event.attempt] = entry(
                "sending", event.at, attempt=event.attempt, finished_at=None,
                folded=[f.get("id") for f in getattr(event, "folded", None) or []])
        elif isinstance(event, Delivery.Delivered):
            attempts[event.attempt].update(outcome="delivered", status_code=event.status_code,
                                           finished_at=event.at,
                                           fallback_reason=getattr(event, "fallback_reason", None))
        elif isinstance(event, Delivery.AttemptFailed):
            attempts[event.attempt].update(
                outcome="failed", status_code=event.status_code, error=event.error,
                error_class=getattr(event, "error_class", ErrorClass.UNKNOWN),
                retryable=event.retryable, finished_at=event.at,
                next_attempt_at=event.next_attempt_at,
                fallback_reason=getattr(event, "fallback_reason", None))
        elif isinstance(event, Delivery.Skipped):
            # Numbered after the last attempt, as if it were the next one that was not made.
            entry("skipped", event.at, error=event.why, error_class=event.error_class,
                  retryable=False, attempt=max(attempts, default=0) + 1)
        elif isinstance(event, Delivery.Throttled):
            entry("throttled", event.at, error=event.why, error_class=ErrorClass.THROTTLED,
                  next_attempt_at=event.until)
        elif isinstance(event, Delivery.Folded):
            entry("folded", event.at, error=event.why, error_class=ErrorClass.THROTTLED)
    return history
