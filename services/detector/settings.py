"""Detector settings."""
from pathlib import Path

import yaml
from pydantic import Field, model_validator

from shared.settings import ServiceSettings

from services.detector.alert_sources import AlertSources


class DetectorSettings(ServiceSettings):
    service: str = "detector"
    max_samples_per_batch: int = 50_000
    tick_seconds: float = 15.0  # how often silent series are checked and old samples pruned
    # Silent series (services/detector/silence.py): rule × entity pairs that alerted within
    # this many days are watched; a rule without an interval is silent after this long.
    silence_watch_days: float = 35.0
    silence_after_seconds: float = 2 * 86400.0
    # PagerDuty integrations and mapped JSON webhooks (docs/intake.md): JSON here, or YAML
    # in the file named by alert_sources_file (which wins when both are set).
    alert_sources: AlertSources = Field(default_factory=AlertSources)
    alert_sources_file: str = ""

    @model_validator(mode="after")
    def _read_sources_file(self) -> "DetectorSettings":
        if self.alert_sources_file:
            text = Path(self.alert_sources_file).read_text(encoding="utf-8")
            self.alert_sources = AlertSources.model_validate(yaml.safe_load(text) or {})
        return self
