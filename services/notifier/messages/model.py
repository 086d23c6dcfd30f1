"""A rendered message: every form a medium may need, so a channel takes the one it sends."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    subject: str   # email subject, card title
    text: str      # plain text: SMS, email's text part, robots that take no markdown
    markdown: str  # chat robots' markdown
    html: str      # email's HTML part
    template: str = ""  # which template produced it, for the delivery's explanation
    # Set when an operator's template failed and the shipped one was used instead.
    fallback_reason: str | None = None
