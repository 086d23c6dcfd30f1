"""The systems under the storm: closedloop started as `make up` starts it (or one already
running), or Prometheus Alertmanager; each says where alerts go and which processes it is."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import psutil

from closedloop.embedded.ports import free_port
from closedloop.stack import Stack, StackInfo
from tests.bench.storm.load import Body, alertmanager_api, alertmanager_webhook
from tests.bench.storm.receiver import SECRET

Processes = Callable[[], list[psutil.Process]]
WEEK = 7 * 24 * 3600.0  # escalation that never fires during a run
ALERTMANAGER = "prometheus-alertmanager"  # Debian's package names its binary so


@dataclass
class System:
    name: str
    ingest_url: str
    headers: dict[str, str]
    body: Callable[[str], Body]  # run id → the function making a batch's body
    processes: dict[str, Processes] = field(default_factory=dict)  # for memory and py-spy
    urls: dict[str, str] = field(default_factory=dict)  # closedloop's services
    stop: Callable[[], None] = lambda: None


def process(pid: int | None) -> Processes:
    return lambda: [psutil.Process(pid)] if pid else []


def with_children(pid: int | None) -> Processes:
    """A server and every process it forked (PostgreSQL's backends come and go)."""
    def listed() -> list[psutil.Process]:
        if not pid:
            return []
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    return listed


def listening_pid(url: str) -> int | None:
    """The local process listening on a URL's port, if it is on this machine."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1") or not parts.port:
        return None
    for connection in psutil.net_connections("tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == parts.port:
            return connection.pid
    return None


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def closedloop_started(log=print) -> System:
    """A fresh stack in a temporary home, each service its own process, as `make up` runs it
    (embedded NATS and PostgreSQL unless NATS_URL / DATABASE_URL are set)."""
    home = Path(tempfile.mkdtemp(prefix="closedloop-storm-"))
    stack = Stack(home, log=lambda _: None)
    try:
        info = stack.start()
    except Exception:
        stack.stop()
        raise
    log(f"  closedloop stack up in {home}")
    system = closedloop_attached(info)
    system.processes.update({name: process(p.pid) for name, p in stack.processes.items()})
    if stack.forks is not None:  # the parts' shared pages are split with it
        system.processes["fork server"] = process(stack.forks.process.pid)
    if stack.nats and stack.nats.process:
        system.processes["nats-server"] = process(stack.nats.process.pid)
    if stack.postgres:
        system.processes["postgres"] = with_children(postmaster_pid(stack.postgres.data_dir))
    configured_stop = system.stop

    def stop() -> None:
        configured_stop()
        stack.stop()
        shutil.rmtree(home, ignore_errors=True)

    system.stop = stop
    return system


def closedloop_attached(info: StackInfo) -> System:
    """A running stack: its local processes are found by the ports they listen on."""
    headers = {"X-API-Key": info.api_key}
    system = System("closedloop", f"{info.urls['detector']}/v1/ingest/alertmanager", headers,
                    alertmanager_webhook, urls=info.urls)
    for name, url in info.urls.items():
        if pid := listening_pid(url):
            system.processes[name] = process(pid)
    if info.nats_url and (pid := listening_pid(info.nats_url)):
        system.processes["nats-server"] = process(pid)
    if info.database_url and (pid := postgres_pid(info.database_url)):
        system.processes["postgres"] = with_children(pid)
    return system


def postgres_pid(url: str) -> int | None:
    """The postmaster behind a URL: on a local port, or (the embedded server) on a unix
    socket in its data directory."""
    socket_dir = parse_qs(urlsplit(url).query).get("host", [""])[0]
    return postmaster_pid(Path(socket_dir)) if socket_dir.startswith("/") else listening_pid(url)


def configure_closedloop(system: System, receiver_url: str) -> None:
    """`make up` defaults for paging: one webhook channel, one policy for P0–P3. Both are
    disabled again when the system stops, so a later run on the same stack pages only once."""
    notifier = httpx.Client(base_url=system.urls["notifier"], headers=system.headers, timeout=30)
    name = f"storm-bench {uuid.uuid4().hex[:8]}"
    channel = notifier.post("/v1/channels", json={
        "name": name, "kind": "webhook", "url": receiver_url, "secret": SECRET})
    channel.raise_for_status()
    policy = notifier.post("/v1/policies", json={
        "name": name, "severities": ["P0", "P1", "P2", "P3"], "notify": [channel.json()["id"]],
        "escalate_after_seconds": WEEK})
    policy.raise_for_status()
    previous_stop = system.stop

    def stop() -> None:
        try:
            off = {"enabled": False, "disabled_reason": "storm bench finished"}
            notifier.patch(f"/v1/policies/{policy.json()['id']}", json=off)
            notifier.patch(f"/v1/channels/{channel.json()['id']}", json=off)
        except httpx.HTTPError:
            pass  # a stack already stopped has nothing left to page
        notifier.close()
        previous_stop()

    system.stop = stop


ALERTMANAGER_CONFIG = """\
route:
  receiver: bench
  group_by: ['...']   # every alert its own group: one page per alert, as closedloop pages
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: bench
    webhook_configs:
      - url: {url}
        send_resolved: false
"""


def alertmanager_started(receiver_url: str, log=print) -> System:
    binary = shutil.which(ALERTMANAGER) or shutil.which("alertmanager")
    if binary is None:
        raise RuntimeError("no alertmanager binary: apt-get install prometheus-alertmanager")
    home = Path(tempfile.mkdtemp(prefix="alertmanager-storm-"))
    (home / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG.format(url=receiver_url))
    port = free_port()
    running = subprocess.Popen(
        [binary, f"--config.file={home / 'alertmanager.yml'}", f"--storage.path={home / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
         "--log.level=warn"],
        stdout=open(home / "alertmanager.log", "ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if running.poll() is not None or time.monotonic() > deadline:
            running.kill()
            raise RuntimeError(f"alertmanager did not start; see {home / 'alertmanager.log'}")
        time.sleep(0.1)
    log(f"  alertmanager up at {url}")

    def stop() -> None:
        running.terminate()
        try:
            running.wait(15)
        except subprocess.TimeoutExpired:
            running.kill()
        shutil.rmtree(home, ignore_errors=True)

    return System("alertmanager", f"{url}/api/v2/alerts", {}, alertmanager_api,
                  processes={"alertmanager": process(running.pid)}, stop=stop)
