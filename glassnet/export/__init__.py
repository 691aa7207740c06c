"""Export glassnet networks: ONNX files (:func:`to_onnx`) and PyTorch modules (:func:`to_torch`,
with :func:`load_state_dict_into` for weights coming back).

onnx and torch are optional (``pip install glassnet[onnx]`` / ``glassnet[torch]``) and imported
only when these functions run.
"""

from .onnx import to_onnx
from .torch import load_state_dict_into, to_torch

__all__ = ["load_state_dict_into", "to_onnx", "to_torch"]
