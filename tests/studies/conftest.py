"""Every study runs once in quick mode per test session; the tests share the results."""

from __future__ import annotations

import pytest

from glassnet.studies import all_studies


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory):
    """``{name: StudyResult}`` of every registered study, run with ``quick=True``, reports and
    figures written under a temporary folder."""
    root = tmp_path_factory.mktemp("studies")
    return {st.name: st.run(quick=True, out=root / st.name) for st in all_studies()}
