"""The whole stack on one machine: nats-server, PostgreSQL and the four services as processes.

Used by `closedloop up` (and `closedloop demo` when no stack is running). Data lives under
`.closedloop/` so the next start finds it; NATS_URL / DATABASE_URL point at external servers.
The embedded NATS gives each service its own user (closedloop/nats_users.py)."""
from __future__ import annotations

import asyncio
import getpass
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from closedloop import nats_users
from closedloop.embedded.nats_server import NatsServer
from closedloop.embedded.ports import free_port, port_is_free
from closedloop.embedded.postgres import DATABASE, EmbeddedPostgres, ensure_database
from closedloop.forkserver import ForkServer, Forked
from closedloop.streams import provision_streams
from shared.settings import NatsSettings
from shared.auth import generate_key, weakness

SERVICES = {"detector": 8081, "incidents": 8082, "notifier": 8083, "capa": 8084}
# The console (services/console) serves pages over the four APIs; it keeps no data of its own.
CONSOLE, CONSOLE_PORT = "console", 8080
SECRETS_KEY = "CLOSEDLOOP_NOTIFIER_SECRETS_KEY"
ALLOWED_NETWORKS = "CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS"
ACK_LINK_KEY = "CLOSEDLOOP_ACK_LINK_KEY"
PUBLIC_URL = "CLOSEDLOOP_PUBLIC_URL"
CPU_NICE = "CLOSEDLOOP_CPU_NICE"
FORK_PARTS = "CLOSEDLOOP_FORK_PARTS"
# Parts whose work is never on the way from an alert to a page: on a host they share with the
# paging path they take the CPU it leaves (docs/adr/cpu-priority.md). CLOSEDLOOP_CPU_NICE set
# in the environment applies to every part instead.
BACKGROUND_NICE = {"capa": 10, CONSOLE: 10}
LAPTOP_ALLOWED_NETWORKS = "127.0.0.1/32,::1/128"
# glibc's allocator, for the Python parts: two arenas instead of eight per core, and freed
# memory above 128 KiB handed back to the system instead of kept for the next peak (a storm's
# batches left every part holding its high-water mark). Values in the environment win
# (docs/adr/forked-parts.md).
MALLOC = {"MALLOC_ARENA_MAX": "2", "MALLOC_TRIM_THRESHOLD_": "131072",
          "MALLOC_MMAP_THRESHOLD_": "131072"}


def parts_environment() -> dict[str, str]:
    """What every part of the stack inherits: this environment over the allocator defaults."""
    return {**MALLOC, **os.environ}


@dataclass
class StackInfo:
    """What a running stack tells its clients (written to .closedloop/stack.json)."""

    urls: dict[str, str]
    api_key: str
    nats_url: str
    database_url: str
    operator: str = ""  # the person the admin key is bound to
    console_url: str = ""  # the console's pages (empty in a stack.json from before it)
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
        import httpx  # not at the top: each service process imports this module via the CLI

        try:
            return all(httpx.get(f"{u}/readyz", timeout=1).status_code == 200
                       for u in [*self.urls.values(), self.console_url] if u)
        except httpx.HTTPError:
            return False


def kept_secret(home: Path, variable: str, filename: str,
                make=lambda: secrets.token_urlsafe(32), *, create: bool = True) -> str:
    """A secret of this installation: the environment's value, or one generated once and
    kept (mode 0600) under the stack's home so the next start finds the same one."""
    if os.environ.get(variable):
        return os.environ[variable]
    path = home / filename
    if not path.exists():
        if not create:
            return ""
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def operator() -> str:
    """The person running the stack: its admin key acts as them (verifications need a
    person). CLOSEDLOOP_OPERATOR, else the login name."""
    name = os.environ.get("CLOSEDLOOP_OPERATOR") or getpass.getuser()
    return name.replace(",", " ").replace(":", " ").strip() or "operator"


def api_key(home: Path) -> str:
    """The admin key of this installation, checked before the services would refuse it."""
    key = kept_secret(home, "CLOSEDLOOP_API_KEY", "api-key", generate_key)
    if reason := weakness(key):
        origin = "CLOSEDLOOP_API_KEY" if os.environ.get("CLOSEDLOOP_API_KEY") else home / "api-key"
        raise RuntimeError(f"the admin key from {origin} {reason}; the services will not start "
                           "with it. Set CLOSEDLOOP_API_KEY to the output of `openssl rand -hex "
                           f"32`, or delete {home / 'api-key'} to have one generated")
    return key


def notifier_secrets_key(home: Path) -> str:
    """The key that seals channel secrets. Keep the file: secrets sealed with it cannot be
    opened without it."""
    from cryptography.fernet import Fernet

    return kept_secret(home, SECRETS_KEY, "notifier-secrets-key",
                       lambda: Fernet.generate_key().decode())


def chain_key(home: Path, *, create: bool = True) -> str:
    """The key of the stored events' hash chain (`closedloop verify` needs the same one)."""
    return kept_secret(home, "CLOSEDLOOP_CHAIN_KEY", "chain-key", create=create)


def ack_link_key(home: Path) -> str:
    """Signs the one-click acknowledge links in pages (the notifier signs, the incidents
    service checks). Replacing it refuses every link not yet used."""
    return kept_secret(home, ACK_LINK_KEY, "ack-link-key")


def public_url(urls: dict[str, str]) -> str:
    """Where links in messages point: CLOSEDLOOP_PUBLIC_URL, else (one machine, no gateway in
    front) the incidents service, which answers the acknowledge links."""
    return os.environ.get(PUBLIC_URL) or urls["incidents"]


def notifier_allowed_networks() -> str:
    """A laptop stack lets channels reach loopback, where `closedloop demo` runs its webhook
    receiver; an explicit CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS (even empty) wins."""
    return os.environ.get(ALLOWED_NETWORKS, LAPTOP_ALLOWED_NETWORKS)


def cpu_nice(part: str) -> dict[str, str]:
    """The part's CPU niceness for its environment (none: the parent's)."""
    if CPU_NICE in os.environ or part not in BACKGROUND_NICE:
        return {}
    return {CPU_NICE: str(BACKGROUND_NICE[part])}


class Stack:
    def __init__(self, home: Path, *, log=print) -> None:
        self.home = Path(home).resolve()
        self.log = log
        self.nats: NatsServer | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.processes: dict[str, subprocess.Popen | Forked] = {}
        self.forks: ForkServer | None = None
        self.info: StackInfo | None = None
        self.allowed_networks = notifier_allowed_networks()

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
        key, person = api_key(self.home), operator()
        env = {**parts_environment(), "DATABASE_URL": database_url, "NATS_URL": nats_url,
               SECRETS_KEY: notifier_secrets_key(self.home),
               ALLOWED_NETWORKS: self.allowed_networks,
               "CLOSEDLOOP_CHAIN_KEY": chain_key(self.home),
               ACK_LINK_KEY: ack_link_key(self.home),
               "CLOSEDLOOP_API_KEYS": ",".join(filter(None, [
                   f"{key}:admin@{person}", os.environ.get("CLOSEDLOOP_API_KEYS", "")]))}
        urls = {name: f"http://127.0.0.1:{preferred if port_is_free(preferred) else free_port()}"
                for name, preferred in SERVICES.items()}
        env[PUBLIC_URL] = public_url(urls)
        logs = self.home / "logs"
        logs.mkdir(exist_ok=True)
        # The Python parts fork from one process that imported their libraries once (Linux;
        # CLOSEDLOOP_FORK_PARTS=0 starts each as its own interpreter instead).
        if sys.platform == "linux" and os.environ.get(FORK_PARTS, "1") != "0":
            self.forks = ForkServer(parts_environment())
        for name, url in urls.items():
            port = int(url.rsplit(":", 1)[1])
            credentials = ({"CLOSEDLOOP_NATS_USER": name, "CLOSEDLOOP_NATS_PASSWORD": passwords[name]}
                           if name in passwords else {})
            self._start_part(name, port, {**env, **credentials, **cpu_nice(name)}, logs)
        console_url = self._start_console(urls, logs)
        if self.forks is not None:
            self.forks.close()
        self.info = StackInfo(urls=urls, api_key=key, nats_url=nats_url, database_url=database_url,
                              operator=person, console_url=console_url)
        self._wait_ready(timeout)
        self.info.save(self.info_path)
        return self.info

    def _start_console(self, urls: dict[str, str], logs: Path) -> str:
        """The console talks to the services over HTTP only: it gets their URLs and a session
        secret kept under the stack's home (sign-ins survive a restart), not the database URL,
        NATS or the services' keys."""
        port = CONSOLE_PORT if port_is_free(CONSOLE_PORT) else free_port()
        console_env = {**parts_environment(), "CLOSEDLOOP_CONSOLE_SESSION_SECRET": kept_secret(
            self.home, "CLOSEDLOOP_CONSOLE_SESSION_SECRET", "console-session-secret"),
            **{f"CLOSEDLOOP_CONSOLE_{name.upper()}_URL": url for name, url in urls.items()},
            **cpu_nice(CONSOLE)}
        self._start_part(CONSOLE, port, console_env, logs)
        return f"http://127.0.0.1:{port}"

    def _start_part(self, name: str, port: int, env: dict[str, str], logs: Path) -> None:
        args, log = ["serve", name, "--port", str(port)], logs / f"{name}.log"
        if self.forks is not None:
            self.processes[name] = self.forks.start(args, env, str(log))
        else:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "closedloop.cli", *args], env=env, stdout=open(log, "ab"),
                stderr=subprocess.STDOUT)

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
        if self.forks is not None:
            self.forks.close()
            try:
                self.forks.process.wait(15)
            except subprocess.TimeoutExpired:
                self.forks.process.kill()
            self.forks = None
        if self.nats:
            self.nats.stop()
        if self.postgres:
            self.postgres.stop()
        if self.info_path.exists():
            self.info_path.unlink()
