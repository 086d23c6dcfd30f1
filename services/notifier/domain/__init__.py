"""The notifier's aggregates: channels and policies (routing), deliveries, escalations."""
from services.notifier.domain.channel import Channel, InvalidChannel
from services.notifier.domain.common import (
    NAMESPACE, ChannelKind, ErrorClass, Reason, Severity, key_id,
)
from services.notifier.domain.delivery import (
    ATTEMPT_LEASE, AttemptRefused, Delivery, DeliveryStatus, OutcomeRefused, backoff,
)
from services.notifier.domain.escalation import (
    EarlyStop, Escalation, EscalationNotDue, EscalationNotWaiting, EscalationStatus,
)
from services.notifier.domain.ladder import Fired, InvalidLadder, Ladder, Step, Target, TargetKind
from services.notifier.domain.routing import (
    DIRECTORY_ID, Directory, EscalationPolicy, InvalidPolicy, NameTaken, UnknownChannel,
)
from shared.errors import NotFound


class ChannelNotFound(NotFound):
    pass


class PolicyNotFound(NotFound):
    pass


class DeliveryNotFound(NotFound):
    pass


class EscalationNotFound(NotFound):
    pass


__all__ = [
    "NAMESPACE", "ChannelKind", "Reason", "Severity", "key_id",
    "ATTEMPT_LEASE", "AttemptRefused", "Delivery", "DeliveryStatus", "OutcomeRefused", "backoff",
    "EarlyStop", "Escalation", "EscalationNotDue", "EscalationNotWaiting", "EscalationStatus",
    "DIRECTORY_ID", "Channel", "Directory", "EscalationPolicy", "InvalidChannel",
    "InvalidPolicy", "NameTaken", "UnknownChannel", "ChannelNotFound", "PolicyNotFound",
    "DeliveryNotFound", "EscalationNotFound", "ErrorClass",
    "Fired", "InvalidLadder", "Ladder", "Step", "Target", "TargetKind",
]
