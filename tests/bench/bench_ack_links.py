"""One-click acknowledge links: microseconds of CPU to mint one (the notifier, once per page
attempt) and to verify one (the incidents service, per open and per click), on one core.
Also a refused (forged) link: cheaper, since nothing it carries is read.

Run: .venv/bin/python -m tests.bench.bench_ack_links [links]"""
from __future__ import annotations

import sys
import uuid
from datetime import datetime, timedelta, timezone

from shared.ack_links import AckLinkRefused, AckLinks
from tests.bench.infra import per_op

KEY = "bench-ack-link-key-0123456789abcdef0123"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def main(n: int = 20_000) -> dict[str, float]:
    links, rotated = AckLinks(KEY), AckLinks(f"{'n' * 40},{KEY}")
    pages = [(str(uuid.uuid4()), f"person.{i % 50}", str(uuid.uuid4())) for i in range(n)]
    expires = NOW + timedelta(hours=24)
    tokens = [links.mint(incident_id=i, person=p, delivery_id=d, expires_at=expires)
              for i, p, d in pages]
    forged = [t[:-1] + ("A" if t[-1] != "A" else "B") for t in tokens]

    def mint(count: int) -> None:
        for i, p, d in pages[:count]:
            links.mint(incident_id=i, person=p, delivery_id=d, expires_at=expires)

    def verify(count: int, using: AckLinks = links, which: list[str] = tokens) -> None:
        for token in which[:count]:
            using.verify(token, NOW)

    def refuse(count: int) -> None:
        for token in forged[:count]:
            try:
                links.verify(token, NOW)
            except AckLinkRefused:
                pass

    figures = {
        "mint": per_op(mint, n),
        "verify": per_op(verify, n),
        "verify, old key after a rotation": per_op(lambda c: verify(c, rotated), n),
        "refuse a forged link": per_op(refuse, n),
    }
    print(f"{n} links, {sum(map(len, tokens)) / n:.0f} characters each on average")
    for name, micros in figures.items():
        print(f"  {name:<34} {micros:6.1f} µs")
    return figures


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
