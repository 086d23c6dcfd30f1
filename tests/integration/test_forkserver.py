"""The stack's Python parts fork from one process that imported their libraries once
(closedloop/forkserver.py): each part runs `closedloop <args>` with exactly the environment it
was given, writes to its own log, answers like a subprocess.Popen, and the server ends with its
last part."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest

from closedloop.embedded.ports import free_port
from closedloop.forkserver import ForkServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def server(monkeypatch):
    monkeypatch.chdir(ROOT)  # the parts import the project from the working directory
    forks = ForkServer()
    yield forks
    forks.close()
    try:
        forks.process.wait(20)
    except subprocess.TimeoutExpired:
        forks.process.kill()
        raise


def ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


def test_a_forked_part_serves_and_stops_on_terminate(server, tmp_path):
    port = free_port()
    part = server.start(["serve", "console", "--port", str(port)],
                        {"PATH": os.environ.get("PATH", "")}, str(tmp_path / "console.log"))
    assert part.pid != server.process.pid
    ready(f"http://127.0.0.1:{port}")
    assert part.poll() is None
    part.terminate()
    part.wait(20)
    assert part.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(part.pid, 0)  # reaped, not left a zombie


def test_a_part_gets_the_environment_it_is_given_and_its_own_log(server, tmp_path, monkeypatch):
    monkeypatch.setenv("CLOSEDLOOP_API_KEYS", "a-long-enough-key-for-the-test-0123456789:admin")
    log = tmp_path / "detector.log"
    part = server.start(["serve", "detector", "--port", str(free_port())],
                        {"PATH": os.environ.get("PATH", ""), "CLOSEDLOOP_API_KEYS": "changeme:admin"},
                        str(log))
    part.wait(60)
    assert "detector: refusing to start" in log.read_text()  # its key, not the server's
    server.close()  # no more parts: the server ends with its last one
    assert server.process.wait(20) == 0


def test_a_part_killed_is_seen_as_ended(server, tmp_path):
    port = free_port()
    part = server.start(["serve", "console", "--port", str(port)], {"PATH": os.environ.get("PATH", "")},
                        str(tmp_path / "console.log"))
    ready(f"http://127.0.0.1:{port}")
    os.kill(part.pid, signal.SIGKILL)
    part.wait(10)
    assert part.returncode is not None
