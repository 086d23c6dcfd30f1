"""Talking to a running service from the command line: its URL and API key (flags, the
environment, else the local stack's), and responses that stop the command on an error."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def server_options(parser: argparse.ArgumentParser, service: str) -> None:
    parser.add_argument("--url", help=f"{service} URL (default: the running stack's)")
    parser.add_argument("--api-key", default=os.environ.get("CLOSEDLOOP_API_KEY"))


def service_client(args: argparse.Namespace, service: str):
    import httpx

    from closedloop.stack import StackInfo

    info = StackInfo.load(Path(os.environ.get("CLOSEDLOOP_HOME", ".closedloop")) / "stack.json")
    url = (args.url or os.environ.get(f"CLOSEDLOOP_{service.upper()}_URL")
           or (info.urls[service] if info else None))
    key = args.api_key or (info.api_key if info else None)
    if not url:
        raise SystemExit(f"no {service} to talk to: start the stack (`make up`) or pass --url")
    return httpx.Client(base_url=url, headers={"X-API-Key": key or ""}, timeout=60)


def checked(response) -> Any:
    if response.status_code >= 400:
        raise SystemExit(f"{response.request.method} {response.request.url.path}: "
                         f"{response.status_code} {response.text}")
    return response.json() if response.content else None


def confirmed(args: argparse.Namespace) -> bool:
    """Whether to apply a plan already printed: --yes, else a prompt at a terminal (without
    one, --yes is required)."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        print("not applied: pass --yes to apply without a prompt", file=sys.stderr)
        return False
    return input("Apply these changes? [y/N] ").strip().lower() in ("y", "yes")
