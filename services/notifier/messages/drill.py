"""A drill's messages say so before anything else (docs/adr/closing-paths.md): whoever reads a
page about an exercise must not take it for a real outage, whatever template wrote it, an
operator's included. The mark is added after rendering, to every form of the message."""
from __future__ import annotations

import html
from dataclasses import replace

from services.notifier.channels.base import Notification
from services.notifier.messages.model import Message

# Short, for SMS: the mark reads first, in the reader's language.
DRILL_MARKS = {"zh": "【演练】", "en": "[DRILL]"}


def is_drill(notification: Notification) -> bool:
    """The opening's facts say so (they travel with every message about the incident)."""
    return bool((notification.facts or {}).get("drill")
                or (notification.incident or {}).get("drill"))


def drill_marked(notification: Notification, message: Message, language: str) -> Message:
    if not is_drill(notification):
        return message
    mark = DRILL_MARKS.get(language, DRILL_MARKS["en"])
    return replace(message, subject=f"{mark} {message.subject}".strip(),
                   text=f"{mark} {message.text}", markdown=f"**{mark}**\n{message.markdown}",
                   html=f"<p><strong>{html.escape(mark)}</strong></p>{message.html}")
