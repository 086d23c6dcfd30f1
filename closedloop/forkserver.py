"""Start the stack's Python parts from one process that imported their common libraries once.

Every part needs FastAPI, pydantic, uvicorn, asyncpg, psycopg, nats, eventsourcing … (~55 MiB
of a part's ~100 MiB). Imported here, frozen out of the cyclic collector's sight and forked,
those pages stay shared between the parts until one writes to them, so each part pays for
what it touches rather than for all it imports (docs/adr/forked-parts.md).

Protocol, over the pipes `Stack` opens: one JSON line per part on stdin (`args` of
`closedloop`, `env`, `log`), answered by the child's pid on stdout. Children are reaped by the
kernel (SIGCHLD ignored here); the server exits once its stdin closes and its last child has
ended."""
from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback

# What two parts or more import. Not numpy (the detector's alone; its import starts a BLAS
# thread, and a process that forks holds no threads), nor the services' own modules.
PRELOAD = (
    "asyncio", "uvicorn", "fastapi", "fastapi.routing", "pydantic", "pydantic_settings",
    "starlette.middleware", "asyncpg", "psycopg", "psycopg_pool", "nats", "nats.js",
    "aiohttp", "httpx", "jinja2", "eventsourcing.application",
    "eventsourcing.postgres", "prometheus_client", "opentelemetry.trace", "orjson", "yaml",
    "tenacity", "icalendar", "holidays", "closedloop.cli", "shared.service", "shared.settings",
    "shared.http", "shared.observability", "shared.clock_api", "shared.due_watch",
    "shared.ack_links", "shared.limits", "shared.sliding_window", "shared.contracts.vocabulary",
    "opentelemetry.sdk.trace", "opentelemetry.instrumentation.fastapi", "sse_starlette",
    "cryptography.fernet", "cryptography.hazmat.primitives.ciphers", "itsdangerous",
    "jinja2.sandbox", "psutil", "pydantic.v1", "asgiref.sync", "concurrent.futures.thread",
)


def main() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # optional extras: the part that needs one imports it itself
            pass
    gc.collect()
    gc.freeze()  # the collector never writes to these objects, so their pages stay shared
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parts; they end us
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(pid, flush=True)
    try:
        while True:  # with SIGCHLD ignored, wait() returns once every child has ended
            os.wait()
    except ChildProcessError:
        pass


def _child(request: dict) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["closedloop", *request["args"]]
        from closedloop.cli import main as cli

        code = cli(request["args"])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)


class ForkServer:
    """The stack's side: starts the server and forks a part per `start`."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        """`env`: the server's own environment, which the parts' allocator settings are read
        from at its start (each part's environment is given with `start`)."""
        self.process = subprocess.Popen([sys.executable, "-m", "closedloop.forkserver"], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def start(self, args: list[str], env: dict[str, str], log: str) -> "Forked":
        """Fork `closedloop <args>` with `env` as its whole environment, output to `log`."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"args": args, "env": env, "log": log}) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError("the fork server ended; see the parts' logs")
        return Forked(int(answer))

    def close(self) -> None:
        """No more parts: the server ends with its last child."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()


class Forked:
    """A forked part, handled like a subprocess.Popen (poll, terminate, kill, wait)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and not _alive(self.pid):
            self.returncode = 1  # its exit status went to the kernel, not to us
        return self.returncode

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.05)
        return self.returncode or 0

    def _signal(self, number: int) -> None:
        try:
            os.kill(self.pid, number)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


if __name__ == "__main__":
    main()
