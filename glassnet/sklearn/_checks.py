"""scikit-learn estimator checks the estimators are expected to fail, with the reason for each.

Pass it to ``parametrize_with_checks(..., expected_failed_checks=...)``. It is empty: with
scikit-learn 1.9 both estimators pass every check ``parametrize_with_checks`` yields (55 for the
classifier, 53 for the regressor), with their defaults and with the small budgets the tests use.
One check is skipped by scikit-learn itself, not by glassnet: ``check_array_api_input`` runs only
with ``SCIPY_ARRAY_API=1`` and would then fail, since the estimators compute with NumPy only
(``array_api_support`` is False in their tags).
"""

#: ``{check name: reason}`` of checks expected to fail (none)
EXPECTED_FAILED_CHECKS: dict[str, str] = {}
