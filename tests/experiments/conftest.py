"""Fixtures for the experiments tests: a temporary run store."""

from __future__ import annotations

import pytest


@pytest.fixture
def store(tmp_path):
    from glassnet.experiments import RunStore

    with RunStore(tmp_path / "runs") as st:
        yield st
