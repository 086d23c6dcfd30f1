"""What a channel sends: the notification rendered for its medium in the recipient's
language, plus, when messages to this person were held back by their rate limit, a note
listing them (the overflow is folded into one message rather than dropped)."""
from __future__ import annotations

import html
from dataclasses import replace
from datetime import datetime

from services.notifier.channels.base import Notification
from services.notifier.messages import Message, render

DEFAULT_LANGUAGE = "zh"
FOLDED_HEADING = {"zh": "另有 {n} 条消息因发送频率限制合并于此：",
                  "en": "{n} more message(s) held back by the rate limit:"}


def compose(notification: Notification, medium: str, *, public_url: str | None,
            now: datetime) -> Message:
    language = (notification.recipient or {}).get("language") or DEFAULT_LANGUAGE
    message = render(notification, medium, language, ack_url=notification.ack_url,
                     public_url=public_url or None, now=now)
    return with_folded(message, notification.folded, language)


def with_folded(message: Message, folded: tuple[dict[str, str], ...], language: str) -> Message:
    if not folded:
        return message
    heading = FOLDED_HEADING.get(language, FOLDED_HEADING["en"]).format(n=len(folded))
    lines = [f"{f.get('ref', '')} {f.get('title', '')} ({f.get('reason', '')})".strip()
             for f in folded]
    return replace(
        message,
        text=message.text + "\n\n" + heading + "\n" + "\n".join(f"- {line}" for line in lines),
        markdown=message.markdown + "\n\n**" + heading + "**\n"
        + "\n".join(f"- {line}" for line in lines),
        html=message.html + "<p>" + html.escape(heading) + "</p><ul>"
        + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>")
