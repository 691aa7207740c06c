"""scikit-learn estimator checks the estimators are expected to fail, with the reason for each.

Pass it to ``parametrize_with_checks(..., expected_failed_checks=...)``.
"""

#: ``{check name: reason}``, filled in from running ``parametrize_with_checks``
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


def expected_failed_checks(estimator) -> dict[str, str]:
    """The checks ``estimator`` is expected to fail (the callable form scikit-learn accepts)."""
    return dict(EXPECTED_FAILED_CHECKS)
