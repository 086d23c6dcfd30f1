"""`closedloop dlq list|replay`: read the dead-letter stream and put a message back."""
from __future__ import annotations

import nats
from nats.js.errors import NotFoundError

from shared.bus import deadletter
from shared.bus.connection import connect_options
from shared.settings import NatsSettings


async def dlq_command(server: str | NatsSettings, action: str, sequence: int | None) -> int:
    # Replaying publishes to another producer's subject: only the admin NATS user may.
    settings = server if isinstance(server, NatsSettings) else NatsSettings(nats_url=server)
    nc = await nats.connect(**connect_options(settings))
    js = nc.jetstream()
    try:
        if action == "list":
            info = await js.stream_info("DLQ")
            if info.state.messages == 0:
                print("the dead-letter stream is empty")
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    msg = await js.get_msg("DLQ", seq)
                except NotFoundError:
                    continue
                h = msg.headers or {}
                print(f"#{seq}  {h.get(deadletter.ORIGINAL_SUBJECT)}  "
                      f"(consumer {h.get(deadletter.CONSUMER)}, original seq "
                      f"{h.get(deadletter.ORIGINAL_SEQUENCE)})\n      {h.get(deadletter.REASON)}")
            return 0
        if sequence is None:
            print("closedloop dlq replay needs the DLQ sequence number (see `closedloop dlq list`)")
            return 2
        msg = await js.get_msg("DLQ", sequence)
        await deadletter.replay(js, msg)
        print(f"dead letter #{sequence} published again to "
              f"{(msg.headers or {}).get(deadletter.ORIGINAL_SUBJECT)}")
        return 0
    finally:
        await nc.close()
