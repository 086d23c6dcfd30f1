"""Render time per message on one core (CPU time of this process): each medium in each language with the shipped
templates (compiled once, then cached), the first render of a fresh renderer (what a
start-up pays per template), an operator's override, and an override that fails and falls
back to the shipped template (the failure is rendered twice).

Run: .venv/bin/python -m tests.bench.bench_messages [renders]"""
from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

from services.notifier.messages.render import Renderer
from tests.unit.test_messages import ACK, NOW, PUBLIC, REASONS, notification


def rate(label: str, count: int, run) -> float:
    began = time.process_time()
    run()
    elapsed = time.process_time() - began
    print(f"  {label:<52} {count / elapsed:>9,.0f} /s  ({elapsed * 1e6 / count:,.0f} µs each)")
    return elapsed * 1e6 / count


def main(renders: int = 2_000) -> None:
    logging.getLogger("services.notifier.messages.render").setLevel(logging.ERROR)
    shipped = Renderer()
    for language in ("zh", "en"):
        for medium in ("chat", "email", "sms"):
            n = notification("incident.opened", language)
            shipped.render(n, medium, language, ack_url=ACK, public_url=PUBLIC, now=NOW)
            rate(f"{medium:<5} {language}, shipped, warm", renders, lambda: [
                shipped.render(n, medium, language, ack_url=ACK, public_url=PUBLIC, now=NOW)
                for _ in range(renders)])

    reasons = [REASONS[name] for name in sorted(REASONS)]
    began = time.process_time()
    fresh = Renderer()
    for reason in reasons:
        fresh.render(notification(reason), "email", "zh", now=NOW)
    print(f"  first render of each of {len(reasons)} email templates (compile included): "
          f"{(time.process_time() - began) * 1e3 / len(reasons):,.1f} ms each")

    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "zh").mkdir()
        (Path(directory) / "zh" / "incident.opened.chat.j2").write_text(
            '{% extends "zh/_base.chat.j2" %}{% block headline %}门店告警{% endblock %}')
        (Path(directory) / "zh" / "incident.opened.sms.j2").write_text("{{ no_such_fact }}")
        override = Renderer(directory)
        n = notification("incident.opened")
        rate("chat  zh, operator's override", renders, lambda: [
            override.render(n, "chat", "zh", now=NOW) for _ in range(renders)])
        assert override.render(n, "sms", "zh", now=NOW).fallback_reason
        rate("sms   zh, override failing → shipped fallback", renders, lambda: [
            override.render(n, "sms", "zh", now=NOW) for _ in range(renders)])


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
