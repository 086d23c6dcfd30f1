"""Wait out an outage of the database or NATS without giving up the messages in hand: they stay
in progress (JetStream does not redeliver them) and their delivery count does not move."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from shared.bus.faults import is_infrastructure

log = logging.getLogger(__name__)
T = TypeVar("T")


async def through_outages(attempt: Callable[[], Awaitable[T]], held: Callable[[], Iterable[Any]],
                          *, name: str, max_wait: float = 10.0) -> T:
    """Run `attempt` until it succeeds or fails for a reason of its own; between tries on
    infrastructure errors, back off (exponential, jittered, capped at `max_wait`) and tell
    JetStream every held message is still being worked on."""

    async def keep_held(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("%s: infrastructure unavailable (%r); holding the messages in hand, "
                    "retrying in %.1fs", name, error, state.upcoming_sleep)
        for msg in held():
            # NATS may be what is down: then the message comes back after ack_wait, and its
            # tracking row (or its absence) decides what happens.
            with contextlib.suppress(Exception):
                await msg.in_progress()

    retrying = AsyncRetrying(
        retry=retry_if_exception(is_infrastructure),
        wait=wait_exponential_jitter(initial=0.2, max=max_wait),
        before_sleep=keep_held, reraise=True)

    async def once() -> T:  # tenacity awaits coroutine functions only, not lambdas
        return await attempt()

    return await retrying(once)
