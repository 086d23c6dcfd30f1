"""`closedloop postmortem <ref>`: a case's postmortem from the capa service, as Markdown,
HTML or PDF, in Chinese or English, printed or written to a file. A systemic problem has no
ref: its id gives its postmortem."""
from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any, Callable

from closedloop.client import server_options, service_client


def register(sub: Any) -> None:
    parser = sub.add_parser("postmortem", help="a case's postmortem (by incident ref or case "
                                               "id) or a systemic problem's (by its id)")
    parser.add_argument("case", help="the incident's ref (e.g. P0-2026-11-001), the case id "
                                     "or a systemic problem's id")
    parser.add_argument("--format", choices=["md", "html", "pdf"], default="md")
    parser.add_argument("--lang", choices=["zh", "en"], default="en")
    parser.add_argument("--out", type=Path, help="write to this file (required for pdf at a "
                                                  "terminal); else print")
    server_options(parser, "capa")
    parser.set_defaults(run=cmd_postmortem)


def fetch(client: Any, case: str, fmt: str = "md", lang: str = "en") -> bytes:
    params = {"format": fmt, "lang": lang}
    response = client.get(f"/v1/capa/{case}/postmortem", params=params)
    if response.status_code == 404 and _is_uuid(case):  # no case: perhaps a systemic problem
        systemic = client.get(f"/v1/systemic-problems/{case}/postmortem", params=params)
        if systemic.status_code != 404:
            response = systemic
    if response.status_code >= 400:
        raise SystemExit(f"postmortem of {case}: {response.status_code} {response.text}")
    return response.content


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def cmd_postmortem(args: argparse.Namespace) -> int:
    if args.format == "pdf" and args.out is None and sys.stdout.isatty():
        raise SystemExit("a PDF is not for the terminal: pass --out FILE (or redirect it)")
    with service_client(args, "capa") as client:
        body = fetch(client, args.case, args.format, args.lang)
    if args.out is not None:
        args.out.write_bytes(body)
        print(f"postmortem of {args.case} written to {args.out} ({len(body)} bytes)")
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    return 0


def print_postmortem(ref: str, say: Callable[[str], None] = print, lang: str = "en",
                     url: str | None = None, api_key: str | None = None) -> str:
    """The demo's last step: the closed case's postmortem in Markdown, told line by line
    (the running stack's capa and key unless given). Returns the text."""
    args = argparse.Namespace(url=url, api_key=api_key)
    with service_client(args, "capa") as client:
        text = fetch(client, ref, "md", lang).decode()
    for line in text.rstrip("\n").splitlines():
        say(line)
    return text
