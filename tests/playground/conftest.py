"""Fixtures for the playground tests.

Protocol tests need Starlette (and httpx for its test client); browser tests also need Playwright,
pytest-playwright and a Chromium at /usr/bin/chromium (``apt-get install -y chromium``). Each
test module skips itself when what it needs is missing.
"""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch arguments, pointed at the system Chromium (no `playwright install`)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def playground_url():
    """A playground server in a background thread for the whole session."""
    pytest.importorskip("uvicorn")
    from glassnet.playground.server import BackgroundServer

    with BackgroundServer() as url:
        yield url
