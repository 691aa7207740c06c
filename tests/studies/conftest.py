"""Every study runs once in quick mode per test session; the tests share the results."""

from __future__ import annotations

import pytest

from glassnet.studies import all_studies


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory):
    """``{name: StudyResult}`` of every registered study, run with ``quick=True``, reports and
    figures written under a temporary folder, every trained network recorded in the run store
    ``root/runs.db`` (``quick_store``)."""
    root = tmp_path_factory.mktemp("studies")
    return {st.name: st.run(quick=True, out=root / st.name, store=root / "runs.db") for st in all_studies()}


@pytest.fixture(scope="session")
def quick_store(quick_results):
    """The path of the run store the quick studies recorded into."""
    return next(iter(quick_results.values())).out.parent / "runs.db"


@pytest.fixture(scope="module")
def run(request):
    """The quick run of the study named by the test module's ``NAME`` (measured once per module)."""
    from glassnet.studies import get_study

    return get_study(request.module.NAME).run(quick=True, write=False)
