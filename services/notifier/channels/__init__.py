"""The only code that talks to the outside world: one integration per channel kind."""
from services.notifier.channels.base import ErrorClass, Integration, Notification, Outcome, Target
from services.notifier.channels.egress import DestinationRefused, EgressPolicy
from services.notifier.channels.transport import guarded_session, verified_tls_context
from services.notifier.channels.webhook import WebhookChannel, sign

__all__ = ["DestinationRefused", "EgressPolicy", "ErrorClass", "Integration", "Notification",
           "Outcome", "Target", "WebhookChannel", "guarded_session", "sign", "verified_tls_context"]
