"""The `closedloop` command: up, demo, status, serve, replay, dlq, rules, backtest, detect."""
from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
import threading
from pathlib import Path

from closedloop.stack import SERVICES, Stack, StackInfo

HOME = Path(os.environ.get("CLOSEDLOOP_HOME", ".closedloop"))


def cmd_up(args: argparse.Namespace) -> int:
    stack = Stack(HOME)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        info = stack.start()
    except Exception as error:
        print(f"closedloop up failed: {error}", file=sys.stderr)
        stack.stop()
        return 1
    print("\nclosedloop is up.\n")
    print(f"  {'service':<10} {'URL':<24} API docs")
    for name, url in info.urls.items():
        print(f"  {name:<10} {url:<24} {url}/docs")
    print(f"\n  NATS      {info.nats_url}")
    print(f"  Postgres  {masked(info.database_url)}")
    print(f"\n  API key (admin): {info.api_key}")
    print(f"  e.g. curl -H 'X-API-Key: {info.api_key}' {info.urls['incidents']}/v1/incidents")
    print("\n  Logs in .closedloop/logs/. Ctrl-C stops everything.", flush=True)
    while not stopping.wait(1):
        dead = [n for n, p in stack.processes.items() if p.poll() is not None]
        if dead:
            print(f"{', '.join(dead)} stopped unexpectedly; see .closedloop/logs/", file=sys.stderr)
            break
    print("\nstopping …", flush=True)
    stack.stop()
    return 0


def masked(url: str) -> str:
    """A URL fit to print: the password replaced by ***."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    module = importlib.import_module(f"services.{args.service}.main")
    uvicorn.run(module.create_app(), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import httpx

    info = StackInfo.load(HOME / "stack.json")
    if info is None:
        print("no stack is running here (start one with `make up`)")
        return 1
    ok = True
    for name, url in info.urls.items():
        try:
            state = httpx.get(f"{url}/readyz", timeout=2).json()["status"]
        except Exception as error:  # report every service, whatever fails
            state, ok = f"unreachable ({type(error).__name__})", False
        ok = ok and state == "ready"
        print(f"{name:<10} {url:<24} {state}")
    return 0 if ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from closedloop.demo import run_demo

    info = StackInfo.load(HOME / "stack.json")
    stack = None
    if info is None or not info.healthy():
        print("no running stack found; starting one for the demo …", flush=True)
        stack = Stack(HOME)
        info = stack.start()
    try:
        return run_demo(info)
    finally:
        if stack is not None:
            stack.stop()


def cmd_replay(args: argparse.Namespace) -> int:
    from closedloop.replay import replay
    from closedloop.embedded.postgres import DATABASE, EmbeddedPostgres, with_database

    if os.environ.get("DATABASE_URL") or StackInfo.load(HOME / "stack.json"):
        return asyncio.run(replay(args.service, _database_url()))
    if not (HOME / "postgres").exists():
        raise SystemExit("nothing to replay: set DATABASE_URL or start the stack with `make up`")
    postgres = EmbeddedPostgres(HOME / "postgres").start()  # the stack's own data, stopped stack
    try:
        return asyncio.run(replay(args.service, with_database(postgres.server_url, DATABASE)))
    finally:
        postgres.stop()


def cmd_dlq(args: argparse.Namespace) -> int:
    from closedloop.dlq import Selection, dlq_command, store_relays

    info = StackInfo.load(HOME / "stack.json")
    nats_url = os.environ.get("NATS_URL") or (info.nats_url if info else "nats://127.0.0.1:4222")
    selection = Selection(sequence=args.sequence, consumer=args.consumer, subject=args.subject,
                          since=args.since, until=args.until)
    # Relay dead letters are references into a service's store: replaying them reads it.
    database_url = os.environ.get("DATABASE_URL") or (info.database_url if info else None)
    relays = store_relays(database_url) if database_url else None
    return asyncio.run(dlq_command(nats_url, args.action, selection, relays))


def _timestamp(flag: str):
    from datetime import datetime, timezone

    def parse(text: str):
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{flag} {text!r}: use an ISO 8601 time, e.g. 2026-11-02T09:00 or "
                "2026-11-02T09:00+01:00 (UTC when no offset is given)") from None
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

    return parse


def _database_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    info = StackInfo.load(HOME / "stack.json")
    if info is None:
        raise SystemExit("set DATABASE_URL or start the stack with `make up`")
    return info.database_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="closedloop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start NATS, PostgreSQL and the four services").set_defaults(run=cmd_up)
    sub.add_parser("demo", help="play the story of a store whose NPS collapses").set_defaults(run=cmd_demo)
    sub.add_parser("status", help="readiness of the running stack").set_defaults(run=cmd_status)
    serve = sub.add_parser("serve", help="run one service (settings from the environment)")
    serve.add_argument("service", choices=list(SERVICES))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(run=cmd_serve)
    replay = sub.add_parser("replay", help="drop and rebuild a service's read models from its log")
    replay.add_argument("service", choices=list(SERVICES))
    replay.set_defaults(run=cmd_replay)
    dlq = sub.add_parser("dlq", help="list dead letters or replay them (one, or by filter)")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("sequence", nargs="?", type=int, help="one DLQ stream sequence")
    dlq.add_argument("--consumer", help="the durable consumer (e.g. incidents-detector) or "
                                        "relay:<service> that dead-lettered them")
    dlq.add_argument("--subject", help="original subject; NATS wildcards * and > allowed")
    dlq.add_argument("--since", type=_timestamp("--since"), help="dead-lettered at or after (ISO 8601)")
    dlq.add_argument("--until", type=_timestamp("--until"), help="dead-lettered before (ISO 8601)")
    dlq.set_defaults(run=cmd_dlq)
    from closedloop.detector import register
    register(sub)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
