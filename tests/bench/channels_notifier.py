"""`closedloop serve notifier` with the chat robots' fixed hosts (oapi.dingtalk.com,
qyapi.weixin.qq.com) pointed at a local receiver: the egress guard's resolver answers
127.0.0.1 and the receiver's port for them, as the channel tests do (tests/unit/
test_notifier_channel_receivers.py); every other host is resolved as usual and everything is
still checked against the egress policy. Apprise's own robot integrations send unchanged.

Run by bench_channels.py: python -m tests.bench.channels_notifier <robot port> serve notifier …"""
from __future__ import annotations

import functools
import sys

from services.notifier.channels import lanes, thread_egress
from tests.bench.channel_receivers import ROBOT_HOSTS


def pointed_at(port: int) -> thread_egress.Resolve:
    def resolve(host: str, wanted: int) -> list[tuple[str, int]]:
        if host in ROBOT_HOSTS:
            return [("127.0.0.1", port)]
        return thread_egress.system_resolve(host, wanted)
    return resolve


if __name__ == "__main__":
    lanes.Guard = functools.partial(thread_egress.Guard,  # type: ignore[misc]
                                    resolve=pointed_at(int(sys.argv[1])))
    from closedloop.cli import main

    sys.exit(main(sys.argv[2:]))
