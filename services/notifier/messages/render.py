"""Render a notification for a medium ("chat", "email", "sms", "webhook") in a language.

The plain form below is what every medium falls back to; templates replace it."""
from __future__ import annotations

import html
from datetime import datetime

from services.notifier.channels.base import Notification
from services.notifier.messages.model import Message


def render(notification: Notification, medium: str, language: str = "zh", *,
           ack_url: str | None = None, public_url: str | None = None,
           now: datetime | None = None) -> Message:
    incident = notification.incident
    subject = f"[{incident.get('severity', '')}] {incident.get('ref') or ''} " \
              f"{incident.get('title', '')}".strip()
    lines = [subject, f"{notification.reason} · {incident.get('entity', '')}"]
    if ack_url:
        lines.append(ack_url)
    text = "\n".join(lines)
    return Message(subject=subject, text=text, markdown=text,
                   html="<br>".join(html.escape(line) for line in lines), template="plain")
