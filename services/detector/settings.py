"""Detector settings."""
from shared.settings import ServiceSettings


class DetectorSettings(ServiceSettings):
    service: str = "detector"
    max_samples_per_batch: int = 50_000
    tick_seconds: float = 15.0  # how often silent series are checked and old samples pruned
