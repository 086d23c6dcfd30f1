"""The whole stack on one machine: nats-server, PostgreSQL and the four services as processes.

Used by `closedloop up` (and `closedloop demo` when no stack is running). Data lives under
`.closedloop/` so the next start finds it; NATS_URL / DATABASE_URL point at external servers.
The embedded NATS gives each service its own user (closedloop/nats_users.py)."""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from closedloop import nats_users
from closedloop.embedded.nats_server import NatsServer
from closedloop.embedded.ports import free_port, port_is_free
from closedloop.embedded.postgres import DATABASE, EmbeddedPostgres, ensure_database
from closedloop.streams import provision_streams
from shared.settings import NatsSettings

SERVICES = {"detector": 8081, "incidents": 8082, "notifier": 8083, "capa": 8084}


@dataclass
class StackInfo:
    """What a running stack tells its clients (written to .closedloop/stack.json)."""

    urls: dict[str, str]
    api_key: str
    nats_url: str
    database_url: str
    pid: int = field(default_factory=os.getpid)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2))
        path.chmod(0o600)  # holds the admin key

    @classmethod
    def load(cls, path: Path) -> "StackInfo | None":
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def healthy(self) -> bool:
        try:
            return all(httpx.get(f"{u}/readyz", timeout=1).status_code == 200
                       for u in self.urls.values())
        except httpx.HTTPError:
            return False


def api_key(home: Path) -> str:
    """The admin key of this installation: CLOSEDLOOP_API_KEY, or one generated once."""
    if os.environ.get("CLOSEDLOOP_API_KEY"):
        return os.environ["CLOSEDLOOP_API_KEY"]
    path = home / "api-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


class Stack:
    def __init__(self, home: Path, *, log=print) -> None:
        self.home = Path(home).resolve()
        self.log = log
        self.nats: NatsServer | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.info: StackInfo | None = None

    @property
    def info_path(self) -> Path:
        return self.home / "stack.json"

    def start(self, timeout: float = 90.0) -> StackInfo:
        self.home.mkdir(parents=True, exist_ok=True)
        nats_url = os.environ.get("NATS_URL")
        if nats_url:  # an external server: passwords, if any, come as NATS_<USER>_PASSWORD
            passwords = {user: os.environ[nats_users.password_variable(user)]
                         for user in nats_users.USERS
                         if os.environ.get(nats_users.password_variable(user))}
        else:
            self.log("starting nats-server (JetStream, a user per service) …")
            passwords = nats_users.passwords(self.home)
            self.nats = NatsServer(self.home / "nats", port=4222 if port_is_free(4222) else None,
                                   authorization=nats_users.with_hashes(passwords)).start()
            nats_url = self.nats.url
        if nats_users.ADMIN in passwords:  # else each service creates missing streams itself
            asyncio.run(provision_streams(NatsSettings(
                nats_url=nats_url, nats_user=nats_users.ADMIN,
                nats_password=passwords[nats_users.ADMIN])))
        server_url = os.environ.get("DATABASE_URL")
        if server_url:
            database_url = server_url
        else:
            self.log("starting embedded PostgreSQL …")
            self.postgres = EmbeddedPostgres(self.home / "postgres").start()
            database_url = ensure_database(self.postgres.server_url, DATABASE)
        key = api_key(self.home)
        env = {**os.environ, "DATABASE_URL": database_url, "NATS_URL": nats_url,
               "CLOSEDLOOP_API_KEYS": ",".join(filter(None, [
                   f"{key}:admin", os.environ.get("CLOSEDLOOP_API_KEYS", "")]))}
        urls = {}
        logs = self.home / "logs"
        logs.mkdir(exist_ok=True)
        for name, preferred in SERVICES.items():
            port = preferred if port_is_free(preferred) else free_port()
            urls[name] = f"http://127.0.0.1:{port}"
            out = open(logs / f"{name}.log", "ab")
            credentials = ({"CLOSEDLOOP_NATS_USER": name, "CLOSEDLOOP_NATS_PASSWORD": passwords[name]}
                           if name in passwords else {})
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "closedloop.cli", "serve", name, "--port", str(port)],
                env={**env, **credentials}, stdout=out, stderr=subprocess.STDOUT)
        self.info = StackInfo(urls=urls, api_key=key, nats_url=nats_url, database_url=database_url)
        self._wait_ready(timeout)
        self.info.save(self.info_path)
        return self.info

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self.info is not None
        while not self.info.healthy():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited during start-up; see "
                                       f"{self.home / 'logs' / (name + '.log')}")
            if time.monotonic() > deadline:
                raise RuntimeError("services did not become ready in time; see .closedloop/logs/")
            time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        if self.nats:
            self.nats.stop()
        if self.postgres:
            self.postgres.stop()
        if self.info_path.exists():
            self.info_path.unlink()
