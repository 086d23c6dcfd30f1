"""Stream definitions: one stream per producer plus the dead-letter stream.

infra/nats/streams/*.json are the operator's copy of exactly these definitions."""
from __future__ import annotations

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

PRODUCERS = ("detector", "incidents", "notifier", "capa")
DAY = 24 * 3600
# The relay may republish what it sent since it last saved its position (a crash): JetStream
# drops copies within 2 minutes (its default), and consumers' tracking rows skip any later one.
# nats-server keeps every message id of the window in memory (docs/adr/database-connections.md).
DUPLICATE_WINDOW_SECONDS = 120


def stream_name(producer: str) -> str:
    return producer.upper()


def stream_configs() -> list[StreamConfig]:
    def config(name: str, subjects: list[str], max_age_days: int) -> StreamConfig:
        return StreamConfig(
            name=name, subjects=subjects, retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE, num_replicas=1, discard=DiscardPolicy.OLD,
            duplicate_window=DUPLICATE_WINDOW_SECONDS, max_age=max_age_days * DAY,
        )

    configs = [config(stream_name(p), [f"closedloop.{p}.>"], 30) for p in PRODUCERS]
    configs.append(config("DLQ", ["closedloop.dlq.>"], 90))
    return configs


async def ensure_streams(js) -> None:
    """Create missing streams; safe to run from every replica at every start. An existing
    stream keeps the operator's settings (replicas, limits, sync) and only gains subjects."""
    for config in stream_configs():
        try:
            info = await js.stream_info(config.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except BadRequestError:  # another replica created it first
                pass
            continue
        if set(info.config.subjects or []) != set(config.subjects):
            existing = info.config
            existing.subjects = sorted(set(existing.subjects or []) | set(config.subjects))
            await js.update_stream(existing)
