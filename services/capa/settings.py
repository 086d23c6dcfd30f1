"""Settings of the capa service (environment variables prefixed CLOSEDLOOP_)."""
from __future__ import annotations

from datetime import timedelta

from pydantic import field_validator

from services.capa.domain.effectiveness import DEFAULT_WINDOWS, parse_windows
from services.capa.domain.recurrence import RecurrencePolicy, parse_length
from shared.errors import Invalid
from shared.settings import ServiceSettings


class CapaSettings(ServiceSettings):
    service: str = "capa"
    # How long the incident's alert must stay clear once every action is verified, by
    # severity: CLOSEDLOOP_EFFECTIVENESS_WINDOWS="P0=7d,P1=5d,P2=3d,P3=3d" (s, m, h or d).
    effectiveness_windows: str = DEFAULT_WINDOWS
    effectiveness_poll_seconds: float = 1.0  # how often the window watch looks for ended windows
    effectiveness_batch: int = 100
    # A closed case's signature returning within this period reopens it; beyond it a new case
    # is linked to it: CLOSEDLOOP_CAPA_RECURRENCE_PERIOD="90d" (s, m, h or d).
    capa_recurrence_period: str = "90d"
    # This many recurrences of one rule across the organisation within the systemic period
    # raise a systemic problem for the accountable manager (seed: 5 in 3 months).
    capa_systemic_recurrences: int = 5
    capa_systemic_period: str = "90d"
    # A systemic problem's fix holds when its signature stays away from every entity this
    # long; then a person other than the action owners confirms it (adr/systemic-cases.md).
    capa_systemic_window: str = "30d"
    # 举一反三: the labels whose values make entities peers (same region, same store format),
    # and how far back a peer's signals count.
    peer_labels: str = "region,format"
    peer_lookback_days: float = 30.0

    @field_validator("effectiveness_windows")
    @classmethod
    def _check_windows(cls, value: str) -> str:
        try:
            windows = parse_windows(value)
        except Invalid as error:  # pydantic reports ValueErrors with the variable's name
            raise ValueError(error.message) from None
        if not windows:
            raise ValueError("name at least one window, e.g. P0=7d")
        return value

    @field_validator("capa_recurrence_period", "capa_systemic_period", "capa_systemic_window")
    @classmethod
    def _check_length(cls, value: str) -> str:
        try:
            parse_length("period", value)
        except Invalid as error:
            raise ValueError(error.message) from None
        return value

    @field_validator("capa_systemic_recurrences")
    @classmethod
    def _check_count(cls, value: int) -> int:
        if value < 2:
            raise ValueError("a systemic problem needs at least 2 recurrences")
        return value

    def recurrence(self) -> RecurrencePolicy:
        return RecurrencePolicy(
            period=parse_length("capa_recurrence_period", self.capa_recurrence_period),
            systemic_count=self.capa_systemic_recurrences,
            systemic_period=parse_length("capa_systemic_period", self.capa_systemic_period),
            systemic_window=parse_length("capa_systemic_window", self.capa_systemic_window))

    def windows(self) -> dict[str, timedelta]:
        return parse_windows(self.effectiveness_windows)
