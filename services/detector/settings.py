"""Detector settings."""
from shared.settings import ServiceSettings


class DetectorSettings(ServiceSettings):
    service: str = "detector"
    max_samples_per_batch: int = 10_000
