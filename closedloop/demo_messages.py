"""What each reader got, printed: a delivery's message as the notifier renders it for its
channel (GET /v1/deliveries/{id}/message, the same render() the channels send with), as its
plain text. The demos print it after their tables; nothing here renders."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

RULE = "─" * 60


def message_of(call: Callable[..., Any], delivery_id: str) -> dict[str, Any]:
    return call("notifier", "GET", f"/v1/deliveries/{delivery_id}/message")


def print_message(heading: str, message: dict[str, Any],
                  say: Callable[[str], None] = print) -> None:
    say(f"┌ {heading} · {message['medium']}, {message['language']}")
    for line in message["text"].splitlines():
        say(f"│ {line}")
    say(f"└{RULE}")


def print_messages(rows: list[dict[str, Any]], say: Callable[[str], None] = print) -> None:
    say("")
    say("What each of them read (as their channel rendered it):")
    for r in rows:
        minutes, seconds = divmod(int(r["after_seconds"]), 60)
        print_message(f"+{minutes}:{seconds:02d} {r['who']} · {r['reason']}", r["message"], say)


def print_reports(reports: list[dict[str, Any]], say: Callable[[str], None] = print) -> None:
    say("")
    say("The daily report each of them got (fired / still open / resolved or closed):")
    for r in reports:
        counts = r["counts"]
        print_message(f"{r['who']} · {r['digest']['every']} digest "
                      f"{counts['fired']}/{counts['open']}/{counts['closed']}", r["message"], say)
