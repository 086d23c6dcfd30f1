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

# Keys long and random-looking enough for the services' placeholder rule (shared/auth/keys.py).
ADMIN_KEY = "harness-adm-4f1c9e7b2d6a8c30"
VIEWER_KEY = "harness-viewer-7c2e9a4f1b6d"
RESPONDER_KEY = "harness-responder-3b8d5f0a2c7e"
MANAGER_KEY = "harness-manager-9e1a6c4b8d2f"
INGEST_KEY = "harness-ingest-5d0b3f8e1a9c"
# Bound to a person: verifications need one. The operator's admin key plays `closedloop up`'s.
PERSON_KEYS = {"alice": "harness-alice-2e7c4a9f1d6b", "bob": "harness-bob-8a3f6c1e9d4b"}
OPERATOR, OPERATOR_KEY = "Zhang Min (quality)", "harness-operator-6b1d8f3a0e5c"
API_KEYS = ",".join([f"{ADMIN_KEY}:admin", f"{VIEWER_KEY}:viewer", f"{RESPONDER_KEY}:responder",
                     f"{MANAGER_KEY}:manager", f"{INGEST_KEY}:ingest",
                     f"{OPERATOR_KEY}:admin@{OPERATOR}",
                     *(f"{key}:responder@{name}" for name, key in PERSON_KEYS.items())])
# The notifier seals channel secrets with a key, and the tests' webhook receivers listen on
# loopback, which its egress policy refuses unless allowed explicitly.
NOTIFIER_SAFETY = {"secrets_key": Fernet.generate_key().decode(),
                   "allowed_networks": "127.0.0.1/32"}
# The incidents service checks one-click acknowledge links with it (the notifier would sign).
ACK_LINK_KEY = "harness-ack-link-key-1f6e0c9b3a7d52e8"


def service_app(name: str, clock: Any = None, **settings: Any) -> Any:
    """One service's app built from its own settings class, with what it cannot start without
    (the notifier's secrets key and loopback allow-list) and the tests' keys by default; on
    `clock` when one is given."""
    from importlib import import_module

    main = import_module(f"services.{name}.main")
    settings_class = {"detector": "DetectorSettings", "incidents": "IncidentsSettings",
                      "notifier": "NotifierSettings", "capa": "CapaSettings"}[name]
    required = {"notifier": NOTIFIER_SAFETY, "incidents": {"ack_link_key": ACK_LINK_KEY}}.get(
        name, {})
    values = {"api_keys": API_KEYS, **required, **settings}
    built = getattr(import_module(f"services.{name}.settings"), settings_class)(**values)
    return main.create_app(built, clock=clock) if clock else main.create_app(built)


SERVICE_NAMES = ("detector", "incidents", "notifier", "capa")


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
