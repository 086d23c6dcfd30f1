"""The only code that talks to the outside world: one integration per channel kind."""
from services.notifier.channels.base import Integration, Notification, Outcome, Target
from services.notifier.channels.webhook import WebhookChannel, sign

__all__ = ["Integration", "Notification", "Outcome", "Target", "WebhookChannel", "sign"]
