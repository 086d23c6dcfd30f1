"""Run services in this process over real HTTP (uvicorn in a thread each), so tests can
share an in-memory trace exporter with them while talking to them like any client."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn
from cryptography.fernet import Fernet

from closedloop.embedded.ports import free_port

ADMIN_KEY = "test-admin-key"
VIEWER_KEY = "test-viewer-key"
RESPONDER_KEY = "test-responder-key"
API_KEYS = f"{ADMIN_KEY}:admin,{VIEWER_KEY}:viewer,{RESPONDER_KEY}:responder"
# The notifier seals channel secrets with a key, and the tests' webhook receivers listen on
# loopback, which its egress policy refuses unless allowed explicitly.
NOTIFIER_SAFETY = {"secrets_key": Fernet.generate_key().decode(),
                   "allowed_networks": "127.0.0.1/32"}


class RunningService:
    def __init__(self, app: Any, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "RunningService":
        self.thread.start()
        wait_until(lambda: self._ready(), timeout, f"service on {self.url} never became ready")
        return self

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def client(self, key: str = ADMIN_KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key}, timeout=10)

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, message: str = "condition",
               interval: float = 0.05) -> Any:
    """Poll with a deadline instead of sleeping; returns the predicate's first truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {message}")
        time.sleep(interval)
