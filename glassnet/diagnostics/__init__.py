"""Glass-box tools: gradient check, backprop trace, unit health, gradient norms, plateaus,
linear collapse, sparsity, why a run diverged or died, and a training callback that records them."""

from .callback import DiagnosticsCallback
from .collapse import check_collapse, collapse_linear
from .divergence import DivergenceReport, Verdict, explain_divergence
from .gradcheck import GradCheckReport, gradcheck
from .gradients import compute_gradients, gradient_norms, layer_gradient_norms
from .health import (activation_sites, count_dead_units, dead_units, duplicate_units, saturated_units,
                     saturation, unit_health)
from .plateau import Plateau, detect_plateau
from .pruning import MaskCallback, SparsityReport, apply_masks, fine_tune, prune_magnitude, sparsity_report
from .trace import Trace, trace_backprop, trace_model
from .trace_spec import NetSpec, parse_spec, spec_from_dict
from .weights import layer_sparsity, near_zero_share, sparsity

__all__ = [
    "DiagnosticsCallback", "DivergenceReport", "GradCheckReport", "MaskCallback", "NetSpec", "Plateau",
    "SparsityReport", "Trace", "Verdict",
    "activation_sites", "apply_masks", "fine_tune", "prune_magnitude", "sparsity_report",
    "check_collapse", "collapse_linear", "compute_gradients", "count_dead_units", "dead_units",
    "detect_plateau", "duplicate_units", "explain_divergence", "gradcheck", "gradient_norms", "layer_gradient_norms",
    "layer_sparsity", "near_zero_share", "parse_spec", "saturated_units", "saturation",
    "sparsity", "spec_from_dict", "trace_backprop", "trace_model", "unit_health",
]
