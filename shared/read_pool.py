"""A service's pool of read-model connections (asyncpg)."""
from __future__ import annotations

import asyncpg


async def read_pool(dsn: str, *, size: int, search_path: str, name: str) -> asyncpg.Pool:
    """Reads see this release's version of each read model (`search_path`). A connection
    unused for a minute closes, and its backend exits: the pool hands out the most recently
    used connection first, so the ones a quiet period leaves idle go."""
    return await asyncpg.create_pool(
        dsn, min_size=1, max_size=size, max_inactive_connection_lifetime=60,
        server_settings={"search_path": search_path, "application_name": name},
        reset=transaction_scoped)


async def transaction_scoped(conn: asyncpg.Connection) -> None:
    """What a released connection needs beyond asyncpg's own rollback of a transaction left
    open: nothing. Every user of the pool keeps its state inside a transaction (SET LOCAL,
    transaction advisory locks, cursors); LISTENs and session locks live on the lease
    connection (shared/exclusive.py). asyncpg's default reset sent four statements
    (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) on every release: in a 1,000-alert
    burst ~1,060 times, once per timer worker's wake and projection batch."""
