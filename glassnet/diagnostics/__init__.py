"""Glass-box tools: gradient checks (and, as they land, traces and unit-health diagnostics)."""

from .gradcheck import GradCheckReport, gradcheck

__all__ = ["GradCheckReport", "gradcheck"]
