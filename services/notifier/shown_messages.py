"""What a delivery's reader got, shown again (GET /v1/deliveries/{id}/message): the message
rendered by the same render() the channels send with, from what the delivery recorded, as
of its last attempt. Nothing rendered is stored: the message is made again when asked, and
the one-click acknowledge link is shown without its token (it is a credential)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifier.attempts import notification_of
from services.notifier.config_cache import ConfigCache
from services.notifier.domain import ChannelNotFound, Delivery, DeliveryNotFound
from services.notifier.messages import render
from services.notifier.page_links import PageLinks

DEFAULT_LANGUAGE = "zh"
# The medium a channel kind's messages are rendered for. A webhook sends the notification's
# JSON, not a text: shown, it reads as the chat form, which a gateway behind it most often
# turns it into. Kinds not named here are chat robots.
SHOWN_AS = {"email": "email", "sms": "sms"}


def medium_of(kind: str) -> str:
    return SHOWN_AS.get(kind, "chat")


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
        sent_at = sent_time(events, delivery.scheduled_at)
        recipient = delivery.recipient or {}
        language = recipient.get("language") or DEFAULT_LANGUAGE
        notification = notification_of(
            delivery, max(delivery.attempts, 1),
            ack_url=self.page_links.shown_for(delivery) if self.page_links else None)
        message = render(notification, medium, language, public_url=public_url or None,
                         now=sent_at)
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


def sent_time(events: list[Any], scheduled_at: datetime) -> datetime:
    """When its last attempt was made (the time the message was rendered for), else when it
    was scheduled."""
    started = [e.at for e in events if isinstance(e, Delivery.AttemptStarted)]
    return started[-1] if started else scheduled_at
