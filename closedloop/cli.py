"""The `closedloop` command: up, demo, status, serve, replay, verify, dlq, rules, backtest,
detect, directory, postmortem, report."""
from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
import threading
from pathlib import Path

from closedloop.stack import CONSOLE, SERVICES, Stack, StackInfo

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
    print(f"\n  Console   {info.console_url}  (sign in with the API key below)")
    print(f"\n  NATS      {info.nats_url}")
    print(f"  Postgres  {masked(info.database_url)}")
    print(f"\n  Notifier may reach internal addresses: {stack.allowed_networks or 'none'} "
          "(CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS)")
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


def lower_cpu_priority(nice: str) -> None:
    """CLOSEDLOOP_CPU_NICE=N (0–19): the process yields the CPU to busier parts on a shared host
    (the stack gives it to the parts off the paging path)."""
    if not nice:
        return
    try:
        value = int(nice)
        if not 0 <= value <= 19:
            raise ValueError
    except ValueError:
        sys.exit(f"CLOSEDLOOP_CPU_NICE must be a whole number from 0 to 19, not {nice!r}")
    os.nice(value)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pydantic import ValidationError

    lower_cpu_priority(os.environ.get("CLOSEDLOOP_CPU_NICE", ""))
    module = importlib.import_module(f"services.{args.service}.main")
    try:
        app = module.create_app()
    except ValidationError as refused:  # e.g. a placeholder API key: say which and how to fix
        for error in refused.errors():
            print(f"{args.service}: refusing to start: {error['msg'].removeprefix('Value error, ')}",
                  file=sys.stderr)
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import httpx

    info = StackInfo.load(HOME / "stack.json")
    if info is None:
        print("no stack is running here (start one with `make up`)")
        return 1
    ok = True
    parts = {**info.urls, **({CONSOLE: info.console_url} if info.console_url else {})}
    for name, url in parts.items():
        try:
            state = httpx.get(f"{url}/readyz", timeout=2).json()["status"]
        except Exception as error:  # report every service, whatever fails
            state, ok = f"unreachable ({type(error).__name__})", False
        ok = ok and state == "ready"
        print(f"{name:<10} {url:<24} {state}")
    return 0 if ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from closedloop.demo import DEMO_WINDOWS, run_demo
    from closedloop.demo_intake import run_intake_demo
    from closedloop.demo_stores import run_stores_demo

    info = StackInfo.load(HOME / "stack.json")
    stack = None
    if info is None or not info.healthy():
        print("no running stack found; starting one for the demo …", flush=True)
        # The stories let time pass by moving the clocks: the stores story's fifteen
        # minutes, the intake story's wait for the customer, the NPS story's effectiveness
        # window (a short one, for the demo).
        os.environ["CLOSEDLOOP_CLOCK_ADJUSTABLE"] = "1"
        if args.story == "nps":
            os.environ.setdefault("CLOSEDLOOP_EFFECTIVENESS_WINDOWS", DEMO_WINDOWS)
        stack = Stack(HOME)
        info = stack.start()
    try:
        story = {"stores": run_stores_demo, "intake": run_intake_demo}.get(args.story, run_demo)
        return story(info)
    finally:
        if stack is not None:
            stack.stop()


def cmd_replay(args: argparse.Namespace) -> int:
    from closedloop.replay import replay

    return _on_stack_database("replay", lambda url: asyncio.run(
        replay(args.service, url, prune=args.prune)))


def cmd_verify(args: argparse.Namespace) -> int:
    from closedloop.stack import chain_key
    from closedloop.verify import verify

    key = chain_key(HOME, create=False)
    return _on_stack_database("verify", lambda url: verify(args.service, url, key, args.anchor))


def _chain_hash(value: str) -> str:
    try:
        if not value or len(bytes.fromhex(value)) == 32:  # argparse passes the default too
            return value
    except ValueError:
        pass
    raise argparse.ArgumentTypeError("expected the 64 hex digits of a head printed by verify")


def _on_stack_database(what: str, run) -> int:
    """Run against DATABASE_URL, the running stack's database, or a stopped stack's data."""
    from closedloop.embedded.postgres import DATABASE, EmbeddedPostgres, with_database

    if os.environ.get("DATABASE_URL") or StackInfo.load(HOME / "stack.json"):
        return run(_database_url())
    if not (HOME / "postgres").exists():
        raise SystemExit(f"nothing to {what}: set DATABASE_URL or start the stack with `make up`")
    postgres = EmbeddedPostgres(HOME / "postgres").start()  # the stack's own data, stopped stack
    try:
        return run(with_database(postgres.server_url, DATABASE))
    finally:
        postgres.stop()


def admin_nats():
    """NATS as the admin user: CLOSEDLOOP_NATS_USER/PASSWORD (and NATS_URL) from the
    environment, else the local stack's URL and generated admin password."""
    from pydantic import SecretStr

    from closedloop.nats_users import ADMIN, passwords
    from shared.settings import NatsSettings

    settings = NatsSettings()
    if os.environ.get("NATS_URL") or os.environ.get("CLOSEDLOOP_NATS_URL"):
        return settings
    info = StackInfo.load(HOME / "stack.json")
    update = {"nats_url": info.nats_url} if info else {}
    if not settings.nats_user and (HOME / "nats-users.json").exists():
        update.update(nats_user=ADMIN, nats_password=SecretStr(passwords(HOME)[ADMIN]))
    return settings.model_copy(update=update)


def cmd_dlq(args: argparse.Namespace) -> int:
    from closedloop.dlq import Selection, dlq_command, store_relays

    info = StackInfo.load(HOME / "stack.json")
    selection = Selection(sequence=args.sequence, consumer=args.consumer, subject=args.subject,
                          since=args.since, until=args.until)
    # Relay dead letters are references into a service's store: replaying them reads it.
    database_url = os.environ.get("DATABASE_URL") or (info.database_url if info else None)
    relays = store_relays(database_url) if database_url else None
    return asyncio.run(dlq_command(admin_nats(), args.action, selection, relays))


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


def cmd_streams(args: argparse.Namespace) -> int:
    from closedloop.streams import provision_streams

    names = asyncio.run(provision_streams(admin_nats()))
    print(f"streams ready: {', '.join(names)}")
    return 0


def cmd_nats_config(args: argparse.Namespace) -> int:
    from closedloop.nats_users import from_environment

    print(from_environment(), end="")
    return 0


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
    demo = sub.add_parser("demo", help="play a story: nps (a store's NPS collapses and the loop "
                          "closes), stores (a red alert on a store: who is told, when, why) or intake (a "
                          "customer's call: classified, paused for her receipt, closed by hand)")
    demo.add_argument("--story", choices=["nps", "stores", "intake"], default="nps")
    demo.set_defaults(run=cmd_demo)
    sub.add_parser("status", help="readiness of the running stack").set_defaults(run=cmd_status)
    serve = sub.add_parser("serve", help="run one service (settings from the environment)")
    serve.add_argument("service", choices=[*SERVICES, CONSOLE])
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(run=cmd_serve)
    replay = sub.add_parser("replay", help="drop and rebuild a service's read models from its log")
    replay.add_argument("service", choices=list(SERVICES))
    replay.add_argument("--prune", action="store_true",
                        help="also drop every other version of the read models (older releases)")
    replay.set_defaults(run=cmd_replay)
    verify = sub.add_parser("verify", help="check a service's stored events against their "
                            "hash chain: report edited, deleted or reordered records")
    verify.add_argument("service", choices=list(SERVICES))
    verify.add_argument("--anchor", default="", metavar="HASH", type=_chain_hash,
                        help="a head printed by an earlier verify: it must still be in the log")
    verify.set_defaults(run=cmd_verify)
    dlq = sub.add_parser("dlq", help="list dead letters or replay them (one, or by filter)")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("sequence", nargs="?", type=int, help="one DLQ stream sequence")
    dlq.add_argument("--consumer", help="the durable consumer (e.g. incidents-detector) or "
                                        "relay:<service> that dead-lettered them")
    dlq.add_argument("--subject", help="original subject; NATS wildcards * and > allowed")
    dlq.add_argument("--since", type=_timestamp("--since"), help="dead-lettered at or after (ISO 8601)")
    dlq.add_argument("--until", type=_timestamp("--until"), help="dead-lettered before (ISO 8601)")
    dlq.set_defaults(run=cmd_dlq)
    sub.add_parser("streams", help="create or update the streams (as the admin NATS user)"
                   ).set_defaults(run=cmd_streams)
    sub.add_parser("nats-config", help="print the NATS users and permissions block"
                   ).set_defaults(run=cmd_nats_config)
    from closedloop import detector, directory, postmortem, report
    detector.register(sub)
    directory.register(sub)
    postmortem.register(sub)
    report.register(sub)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
