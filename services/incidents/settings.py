"""Settings of the incidents service (environment variables prefixed CLOSEDLOOP_)."""
from __future__ import annotations

from pydantic import Field, field_validator

from shared.ack_links import check_keys
from shared.settings import ServiceSettings


class IncidentsSettings(ServiceSettings):
    service: str = "incidents"
    sla_poll_seconds: float = 1.0  # how often the SLA watch looks for missed deadlines
    sla_batch: int = 100
    # Checks the one-click acknowledge links the notifier puts in pages (the notifier signs
    # with the same key). Comma-separated: every key verifies. Empty: the links are refused.
    ack_link_key: str = Field("", repr=False)

    # Manual intake's problem types (empty: the shipped intake/problem_types.yaml), and when
    # the learned classifier takes part: from this many labels, retrained every N new ones.
    problem_types_file: str = ""
    classifier_min_examples: int = Field(30, ge=2)
    classifier_retrain_every: int = Field(20, ge=1)
    classifier_model_threshold: float = Field(0.5, ge=0, le=1)

    _check_ack_link_key = field_validator("ack_link_key")(check_keys)
