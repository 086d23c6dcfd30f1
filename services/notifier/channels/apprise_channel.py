"""Chat robots (WeCom, DingTalk, Feishu/Lark, Slack, Teams), SMS gateways and any other Apprise
URL, sent by Apprise: the integrations are Apprise's, maintained upstream. Apprise sends
synchronously, so sends run in a bounded thread pool, each under the egress guard
(thread_egress.py). Apprise answers only "sent or not"; what the guard saw, the answers it
kept (a status, a robot's verdict in a 200's body: robot_answers.py) and Apprise's warnings
say whether it was really delivered and whether trying again could help."""
from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from services.notifier.channels.base import ErrorClass, Notification, Outcome, Target
from services.notifier.channels.content import compose
from services.notifier.channels.kinds import with_recipient
from services.notifier.channels.robot_answers import refusal
from services.notifier.channels.thread_egress import Guard, Seen, guarded
from services.notifier.channels.webhook import is_retryable
from services.notifier.domain.common import MEDIUM_OF_KIND, ChannelKind

STATUS = re.compile(r"error=(\d{3})\b")
CONNECTION = re.compile(r"connection error|timed? ?out", re.IGNORECASE)
# Robots whose Apprise plugin posts plain text only: they are sent the text form.
TEXT_ONLY = {ChannelKind.WECOM, ChannelKind.SMS}


class AppriseChannel:
    def __init__(self, kind: ChannelKind, pool: ThreadPoolExecutor, guard: Guard, *,
                 timeout: float, public_url: str | None = None) -> None:
        self.kind, self.pool, self.guard = kind, pool, guard
        self.timeout, self.public_url = timeout, public_url

    async def send(self, target: Target, notification: Notification,
                   sent_at: datetime) -> Outcome:
        medium = MEDIUM_OF_KIND[self.kind]
        message = compose(notification, medium, public_url=self.public_url, now=sent_at)
        url = target.url
        recipient = notification.recipient or {}
        if self.kind is ChannelKind.SMS and recipient.get("medium") == "sms":
            url = with_recipient(url, recipient["address"])
        text_only = self.kind in TEXT_ONLY
        body = message.text if text_only else message.markdown
        # Where there is no title of its own (SMS, text-only robots) Apprise would put the
        # subject above the text, which already says it.
        title = "" if text_only else message.subject
        loop = asyncio.get_running_loop()
        sent, seen = await loop.run_in_executor(
            self.pool, self._send, url, title, body, "text" if text_only else "markdown")
        outcome = judge(self.kind, sent, seen, url)
        return Outcome(outcome.delivered, outcome.status_code, outcome.error, outcome.retryable,
                       outcome.error_class, message.fallback_reason)

    def _send(self, url: str, title: str, body: str, body_format: str) -> tuple[bool | None, Seen]:
        import apprise

        with guarded(self.guard) as seen:
            plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
            if plugin is None:
                return None, seen
            # Our own retries, backoff and timeout; Apprise's would hide attempts from the
            # delivery's history.
            plugin.socket_connect_timeout = plugin.socket_read_timeout = self.timeout
            # No links to Apprise's icons (hosted by a third party) in our messages, and, as
            # for webhooks, a redirect is a final answer.
            plugin.include_image, plugin.redirects = False, False
            try:
                sent = plugin.notify(body=body, title=title, body_format=body_format)
            except Exception as error:  # noqa: BLE001 - a refusal or a library fault
                if seen.refused is None and seen.network_error is None:
                    seen.log.append(f"{type(error).__name__}")
                return False, seen
        return sent, seen


def judge(kind: ChannelKind, sent: bool | None, seen: Seen, url: str) -> Outcome:
    """What an Apprise send came to, and whether trying again could help. Apprise's own log
    lines and the answers' bodies are read, never recorded: they can quote a token."""
    if sent is None:
        return Outcome.failure(f"Apprise could not read the {kind} channel's URL; fix it "
                               "with PATCH /v1/channels/{id}", ErrorClass.REJECTED,
                               retryable=False)
    answer = seen.answers[-1] if seen.answers else None
    # A robot's refusal inside a 200 answer: Apprise calls most of them sent (Feishu and Lark
    # it calls failed, without saying why).
    if answer is not None and 200 <= answer.status < 300:
        if refused := refusal(kind, answer.head, url):
            return Outcome.failure(refused.describe(kind), ErrorClass.REFUSED_BY_ROBOT,
                                   retryable=refused.retryable, status_code=answer.status)
    if sent:
        return Outcome.success(answer.status if answer else 200 if seen.connected else None)
    if seen.refused:
        return Outcome.failure(seen.refused, ErrorClass.DESTINATION_REFUSED, retryable=False)
    if seen.network_error:
        return Outcome.failure(seen.network_error, ErrorClass.NETWORK, retryable=True)
    if answer is not None and not 200 <= answer.status < 300:
        return _status(kind, answer.status)
    for line in seen.log:
        if found := STATUS.search(line):
            status = int(found.group(1))
            if 200 <= status < 300:
                break  # received, then refused in the answer's body: below
            return _status(kind, status)
    if any(CONNECTION.search(line) for line in seen.log):
        return Outcome.failure(f"the {kind} service could not be reached or did not answer "
                               "in time", ErrorClass.NETWORK, retryable=True)
    # Refused in an answer's body this module cannot read (another service's), or a fault
    # Apprise did not explain: worth the bounded retries, as a message is worth more than an
    # attempt.
    return Outcome.failure(f"the {kind} service did not accept the message",
                           ErrorClass.REJECTED, retryable=True)


def _status(kind: ChannelKind, status: int) -> Outcome:
    return Outcome.failure(f"the {kind} service answered HTTP {status}", ErrorClass.HTTP_STATUS,
                           retryable=is_retryable(status), status_code=status)
