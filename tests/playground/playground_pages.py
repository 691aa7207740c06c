"""Helpers for the playground's browser tests: open the page and wait until it has drawn."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # as conftest.py launches it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def need_browser() -> None:
    """Skip the calling module unless Playwright, pytest-playwright, uvicorn and Chromium are there."""
    pytest.importorskip("playwright")
    pytest.importorskip("pytest_playwright")
    pytest.importorskip("uvicorn")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


def open_page(page, url, hash_="", timeout_ms=30_000):
    """Open the playground (with a URL hash) and wait for its first drawing; returns the list
    that collects the page's uncaught errors."""
    page.set_default_timeout(timeout_ms)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + (f"#{hash_}" if hash_ else ""))
    page.wait_for_function("window.glassnet && window.glassnet.stats.rendered > 0")
    return errors


def epoch(page) -> int:
    return int(page.inner_text("#epoch").replace(",", ""))


#: distinct colours of the output's background canvas
COLOURS = ("(() => { const c = document.querySelector('.hm-bg'); const d = c.getContext('2d')"
           ".getImageData(0, 0, c.width, c.height).data; const s = new Set();"
           "for (let i = 0; i < d.length; i += 4) s.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]); return s.size; })()")
