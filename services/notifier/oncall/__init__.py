"""On-call schedules: a pure engine (who is on call at an instant, and the shifts over a
range) and the Schedule aggregate that keeps each schedule's definition and overrides."""
from services.notifier.oncall.definition import plan
from services.notifier.oncall.model import (
    Answer, InvalidSchedule, OnCall, OverrideKind, Plan, Rotation, Shift, Source,
)
from services.notifier.oncall.resolve import explain, on_call, shifts

__all__ = ["Answer", "InvalidSchedule", "OnCall", "OverrideKind", "Plan", "Rotation", "Shift",
           "Source", "explain", "on_call", "plan", "shifts"]
