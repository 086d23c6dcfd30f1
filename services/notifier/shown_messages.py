"""What a delivery's reader got, shown again (GET /v1/deliveries/{id}/message): the message
composed as the channels compose it (channels/content.py: render() and the note of what the
rate limit folded in), from what the delivery recorded, as of its last attempt. Nothing
rendered is stored: the message is made again when asked, and the one-click acknowledge
link is shown without its token (it is a credential)."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from services.notifier.attempts import notification_of
from services.notifier.channels.content import DEFAULT_LANGUAGE, compose
from services.notifier.config_cache import ConfigCache
from services.notifier.domain import ChannelNotFound, Delivery, DeliveryNotFound
from services.notifier.domain.common import MEDIUM_OF_KIND, ChannelKind
from services.notifier.page_links import PageLinks


def medium_of(kind: str) -> str:
    """The form a channel kind's messages take. A webhook sends the notification's JSON, not
    a text: shown, it reads as the chat form, which a gateway behind it most often makes."""
    try:
        medium = MEDIUM_OF_KIND[ChannelKind(kind)]
    except ValueError:
        return "chat"
    return "chat" if medium == "webhook" else medium


class ShownMessages:
    """Mixed into NotifierApplication (stored_events, config_cache, page_links)."""

    config_cache: ConfigCache
    page_links: PageLinks | None

    def delivery_message(self, delivery_id: UUID, *, medium: str | None = None,
                         public_url: str | None = None) -> dict[str, Any]:
        """The message as its channel rendered it (or for `medium`, to see another form),
        in its person's language and time zone."""
        events = self.stored_events(delivery_id)  # type: ignore[attr-defined]
        if not events or not isinstance(events[0], Delivery.Scheduled):
            raise DeliveryNotFound(f"delivery {delivery_id} does not exist")
        delivery = self._delivery(delivery_id)  # type: ignore[attr-defined]
        medium = medium or medium_of(self._channel_kind(delivery.channel_id))
        last = last_attempt(events)
        sent_at = last.at if last is not None else delivery.scheduled_at
        recipient = delivery.recipient or {}
        language = recipient.get("language") or DEFAULT_LANGUAGE
        notification = notification_of(
            delivery, max(delivery.attempts, 1),
            folded=tuple(getattr(last, "folded", None) or ()),
            ack_url=self.page_links.shown_for(delivery) if self.page_links else None)
        message = compose(notification, medium, public_url=public_url, now=sent_at)
        return {"delivery_id": delivery.id, "reason": delivery.reason,
                "person": recipient.get("handle"), "channel_name": delivery.channel_name,
                "medium": medium, "language": language,
                "time_zone": recipient.get("time_zone"), "rendered_for": sent_at,
                "subject": message.subject, "text": message.text,
                "markdown": message.markdown, "html": message.html,
                "template": message.template, "fallback_reason": message.fallback_reason}

    def _channel_kind(self, channel_id: str) -> str:
        routing, _ = self.config_cache.current()
        try:
            return str(routing.channel(channel_id).kind)
        except ChannelNotFound:  # deleted since: a message is still shown, in chat form
            return "webhook"


def last_attempt(events: list[Any]) -> Any | None:
    """Its last attempt's start: when the message was rendered for, and what it folded in;
    None before any attempt (it is shown as of its scheduling)."""
    started = [e for e in events if isinstance(e, Delivery.AttemptStarted)]
    return started[-1] if started else None
