"""Browser journeys drive Debian's Chromium (never a downloaded one) through Playwright.
Without a Chromium the journeys fail loudly, naming how to install one."""
from __future__ import annotations

import os
import shutil

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    found = os.environ.get("CLOSEDLOOP_CHROMIUM") or next(
        filter(None, (shutil.which(name) for name in CANDIDATES)), None)
    return found


# Per module: Playwright's sync API runs its own event loop, which must be gone before the
# suite's asyncio tests run in this process.
@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.fail("no Chromium found: install Debian's (`apt-get install -y chromium`, as "
                    ".ci/run does) or point CLOSEDLOOP_CHROMIUM at one", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True,
                                             args=["--no-sandbox"])
        yield browser
        browser.close()
