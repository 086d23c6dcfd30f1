"""The console's board with a large backlog, and how soon a new incident shows on an open
board. Loads INCIDENTS into the incidents service's read models with COPY (as bench_board does;
about a fifth are open, so 50,000 gives ~10,000 open), then times the console's whole board
page (sign-in cookie, GET /v1/board through the console, Jinja2 render), its htmx
fragment and the big screen (GET /v1/board/summary); then, in Debian's Chromium, declares incidents while a board is open and prints the
delay until each card is on the screen (the live feed tells the page; polling is the fallback).

Run: .venv/bin/python -m tests.bench.bench_console [INCIDENTS] [REPEATS] [ARRIVALS]
     (default 50000 100 5)"""
from __future__ import annotations

import asyncio
import random
import re
import sys
import time

import httpx

from services.console.main import create_app as console_app
from services.console.settings import ConsoleSettings
from services.incidents.main import create_app
from services.incidents.settings import IncidentsSettings
from tests.bench.bench_board import load
from tests.bench.infra import percentile, servers
from tests.browser.conftest import chromium_path
from tests.harness import API_KEYS, PERSON_KEYS, RunningService


def signed_in(console: RunningService, key: str) -> httpx.Client:
    client = httpx.Client(base_url=console.url, timeout=60)
    page = client.get("/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/sign-in", data={"api_key": key, "name": "bench", "csrf": csrf, "next": "/"})
    return client


def timed(client: httpx.Client, path: str, repeats: int) -> tuple[float, float, int]:
    first = client.get(path)
    # The page's own content (board columns or the wall's tiles), not an error page.
    assert first.status_code == 200 and ("data-status" in first.text
                                         or "tile-open" in first.text), first.text[:300]
    took = []
    for _ in range(repeats):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        took.append((time.perf_counter() - started) * 1000)
    return percentile(took, 50), percentile(took, 99), len(first.content)


def arrivals(incidents: RunningService, console: RunningService, count: int) -> None:
    path = chromium_path()
    if path is None:
        print("  no Chromium: arrival delay not measured (apt-get install chromium)")
        return
    from playwright.sync_api import sync_playwright

    key = PERSON_KEYS["alice"]
    with sync_playwright() as playwright, incidents.client(key) as api:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{console.url}/")
        page.fill("input[name=api_key]", key)
        page.fill("input[name=name]", "alice")
        page.click("button[type=submit]")
        page.wait_for_selector("[data-status=new]")
        delays = []
        for i in range(count):
            started = time.perf_counter()
            ref = api.post("/v1/incidents", json={
                "severity": "P0", "title": f"收银系统离线 {i}", "entity": "store-017",
                "reporter": "alice"}).json()["ref"]
            page.wait_for_selector(f"[data-status=new] a.card[data-ref='{ref}']", timeout=30_000)
            delays.append(time.perf_counter() - started)
        browser.close()
    print(f"  declared → card on an open board ({count}): "
          + ", ".join(f"{d:.2f} s" for d in delays)
          + f"   (median {percentile(delays, 50):.2f} s)")


def main(args: list[str]) -> None:
    n = int(args[0]) if args else 50_000
    repeats = int(args[1]) if len(args) > 1 else 100
    count = int(args[2]) if len(args) > 2 else 5
    with servers() as (nats_url, db_url):
        incidents = RunningService(create_app(IncidentsSettings(
            database_url=db_url, nats_url=nats_url, api_keys=API_KEYS))).start()
        console = RunningService(console_app(ConsoleSettings(incidents_url=incidents.url)))
        console.start()
        try:
            asyncio.run(load(db_url, n, 0, random.Random(13)))
            with incidents.client() as api:
                board = api.get("/v1/board").json()
            open_ = board["total"] - sum(c["count"] for c in board["columns"]
                                         if c["status"] in ("closed", "archived"))
            print(f"console bench: {n} incidents loaded, {open_} open")
            client = signed_in(console, PERSON_KEYS["alice"])
            for name, path in (("board page  GET /", "/"),
                               ("htmx columns GET /board/columns", "/board/columns"),
                               ("search q=宝安", "/?q=宝安"), ("filter P0", "/?severity=P0"),
                               ("unit + owner + dates", "/?unit=华南区&owner=person-7&from="
                                "2025-01-01&to=2025-12-31"),
                               ("big screen GET /wall", "/wall"),
                               ("wall refresh GET /wall/panel", "/wall/panel")):
                p50, p99, size = timed(client, path, repeats)
                print(f"  {name:<34} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   "
                      f"{size / 1024:.0f} KiB")
            client.close()
            arrivals(incidents, console, count)
        finally:
            console.stop()
            incidents.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
