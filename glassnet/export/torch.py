"""PyTorch export and import: the equivalent ``torch.nn.Module`` of one network, and weights back.

``to_torch(model, model_index=0)`` returns an ``nn.Sequential`` for a chain of layers, or a
graph module for a graph :class:`~glassnet.Model` with branches (in eval mode, the model's
dtype), that takes and returns what ``model.predict`` does (channels-last images in and out; the
transposes to PyTorch's channels-first layout are modules of their own). Its children are named
after the glassnet layers, so its ``state_dict`` keys read ``dense_0.weight``, ``conv2d_0.bias``,
``batchnorm_0.running_mean``, ``dense_0_act.weight`` (a PReLU slope):

=========================  ===========================================================
glassnet                   torch
=========================  ===========================================================
Dense                      nn.Linear (weight = W.T)
Conv2D                     nn.Conv2d (weight = W.permute(3, 2, 0, 1)), zero padding
                           first when "same" padding is uneven
MaxPool2D                  nn.MaxPool2d, after -inf padding when padded
AvgPool2D                  nn.AvgPool2d, or an average over the real elements when padded
GlobalAveragePooling2D     mean over height and width
BatchNorm                  nn.BatchNorm1d / nn.BatchNorm2d (same momentum convention)
Dropout, Flatten           nn.Dropout, nn.Flatten
activations                nn.ReLU, LeakyReLU, ELU, SELU, Tanh, Sigmoid, Softmax,
                           Softplus, GELU (exact or tanh), SiLU (swish), PReLU
Add, Multiply, Concatenate small modules of their own (sum, product, torch.cat)
=========================  ===========================================================

``load_state_dict_into(model, state_dict, model_index)`` writes a matching ``state_dict`` (for
example after fine-tuning the exported module in PyTorch) back into network ``model_index``.
torch is imported only inside these functions (``pip install glassnet[torch]``).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..errors import GlassnetError
from ._plan import check_model, model_indices, plan


def _torch():
    try:
        import torch  # noqa: PLC0415
    except ImportError as exc:
        raise GlassnetError("PyTorch export needs torch; install it with `pip install glassnet[torch]`") from exc
    return torch


def _pad4(pads):
    """glassnet ``((top, bottom), (left, right))`` as ``F.pad``'s ``(left, right, top, bottom)``."""
    (top, bottom), (left, right) = pads
    return (int(left), int(right), int(top), int(bottom))


def _modules():
    """The few module classes torch has no ready equivalent for (defined once torch is imported)."""
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    class Permute(nn.Module):
        def __init__(self, perm):
            super().__init__()
            self.perm = tuple(perm)

        def forward(self, x):
            return x.permute(*self.perm)

        def extra_repr(self):
            return f"perm={self.perm}"

    class PaddedConv2d(nn.Conv2d):
        """Conv2d after zero padding ``pad`` = (left, right, top, bottom) (uneven "same" padding)."""

        def __init__(self, *args, pad=(0, 0, 0, 0), **kwargs):
            super().__init__(*args, padding=0, **kwargs)
            self.pad = tuple(pad)

        def forward(self, x):
            return super().forward(F.pad(x, self.pad))

    class PaddedMaxPool2d(nn.MaxPool2d):
        """MaxPool2d after -inf padding (a padded position is never the maximum)."""

        def __init__(self, kernel_size, stride, pad):
            super().__init__(kernel_size, stride)
            self.pad = tuple(pad)

        def forward(self, x):
            return super().forward(F.pad(x, self.pad, value=float("-inf")))

    class AvgPoolRealElements(nn.Module):
        """Average over the real (unpadded) elements of each window: pooled sum / pooled count."""

        def __init__(self, kernel_size, stride, pad):
            super().__init__()
            self.kernel_size, self.stride, self.pad = tuple(kernel_size), tuple(stride), tuple(pad)

        def forward(self, x):
            ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
            total = F.avg_pool2d(F.pad(x, self.pad), self.kernel_size, self.stride)
            count = F.avg_pool2d(F.pad(ones, self.pad), self.kernel_size, self.stride)
            return total / count

    class GlobalAvgPool(nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3))

    class LastAxisPReLU(nn.Module):
        """PReLU with one slope per entry of the LAST axis (glassnet's convention on channels-last
        tensors; ``nn.PReLU`` uses axis 1)."""

        def __init__(self, channels, dtype):
            super().__init__()
            self.weight = nn.Parameter(torch.full((channels,), 0.25, dtype=dtype))

        def forward(self, x):
            return torch.where(x > 0, x, self.weight * x)

    class Add(nn.Module):
        """The sum of every input (glassnet's ``Add``)."""

        def forward(self, *xs):
            y = xs[0]
            for x in xs[1:]:
                y = y + x
            return y

    class Multiply(nn.Module):
        """The elementwise product of every input (glassnet's ``Multiply``)."""

        def forward(self, *xs):
            y = xs[0]
            for x in xs[1:]:
                y = y * x
            return y

    class Concat(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.dim = int(dim)

        def forward(self, *xs):
            return torch.cat(xs, dim=self.dim)

        def extra_repr(self):
            return f"dim={self.dim}"

    class Graph(nn.Module):
        """A glassnet graph model's network: the children run in ``steps`` order, each on the
        values it names (``forward(x)`` or ``forward(x_a, x_b, ...)`` in the model's input order;
        one tensor out, or a tuple for several outputs)."""

        def __init__(self, children, steps, inputs, outputs, single_output):
            super().__init__()
            for name, module in children.items():
                self.add_module(name, module)
            self.steps = [(name, list(reads)) for name, reads in steps]
            self.input_names, self.output_names = list(inputs), list(outputs)
            self.single_output = single_output

        def forward(self, *xs):
            if len(xs) != len(self.input_names):
                raise TypeError(f"this network takes {len(self.input_names)} inputs "
                                f"({', '.join(self.input_names)}), got {len(xs)}")
            values = dict(zip(self.input_names, xs))
            for name, reads in self.steps:
                values[name] = getattr(self, name)(*(values[r] for r in reads))
            outs = tuple(values[o] for o in self.output_names)
            return outs[0] if self.single_output else outs

    return {c.__name__: c for c in (Permute, PaddedConv2d, PaddedMaxPool2d, AvgPoolRealElements, GlobalAvgPool,
                                    LastAxisPReLU, Add, Multiply, Concat, Graph)}


def to_torch(model, model_index: int = 0):
    """Network ``model_index`` of ``model`` as an equivalent module (eval mode, same weights, same
    dtype): ``module(torch.from_numpy(x))`` equals ``model.predict(x)``.

    A :class:`~glassnet.Sequential` becomes an ``nn.Sequential``; a graph
    :class:`~glassnet.Model` a module whose children (named as above, plus ``add_0``,
    ``concatenate_0``, ...) run in the graph's order, called ``module(x)`` or, for several inputs,
    ``module(x_a, x_b, ...)``, returning a tuple for several outputs."""
    torch = _torch()
    check_model(model)
    (m,) = model_indices(model, model_index)
    nn, extra = torch.nn, _modules()
    dtype = torch.float64 if np.dtype(model.dtype) == np.float64 else torch.float32
    p = plan(model, m)
    children = OrderedDict()
    for op in p.ops:
        children[op.name] = _module(torch, nn, extra, op, dtype)
    if _is_chain(p):
        module = nn.Sequential(children)
    else:
        module = extra["Graph"](children, [(op.name, op.inputs) for op in p.ops], [n for n, _ in p.inputs],
                                p.outputs, p.single_output)
    module.eval()
    return module


def _is_chain(p) -> bool:
    """Whether the plan is one input through one operation after another to one output."""
    if not (p.single_input and p.single_output):
        return False
    prev = p.inputs[0][0]
    for op in p.ops:
        if op.inputs != [prev]:
            return False
        prev = op.name
    return p.outputs == [prev]


def _module(torch, nn, extra, op, dtype):
    """The module of one operation, its weights created in ``dtype`` (never rounded through float32)."""
    a, k = op.arrays, op.attrs

    def tensor(arr):
        return torch.from_numpy(np.ascontiguousarray(arr))

    if op.kind == "transpose":
        return extra["Permute"](k["perm"])
    if op.kind == "dense":
        n_in, n_out = a["W"].shape
        layer = nn.Linear(n_in, n_out, bias=a["b"] is not None, dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(tensor(a["W"].T))
            if a["b"] is not None:
                layer.bias.copy_(tensor(a["b"]))
        return layer
    if op.kind == "conv":
        kh, kw, C, F = a["W"].shape
        pads = _pad4(k["pads"])
        left, right, top, bottom = pads
        kw_args = dict(kernel_size=(kh, kw), stride=tuple(k["strides"]), bias=a["b"] is not None, dtype=dtype)
        if left == right and top == bottom:
            layer = nn.Conv2d(C, F, padding=(top, left), **kw_args)
        else:
            layer = extra["PaddedConv2d"](C, F, pad=pads, **kw_args)
        with torch.no_grad():
            layer.weight.copy_(tensor(a["W"].transpose(3, 2, 0, 1)))
            if a["b"] is not None:
                layer.bias.copy_(tensor(a["b"]))
        return layer
    if op.kind == "maxpool":
        pads = _pad4(k["pads"])
        if any(pads):
            return extra["PaddedMaxPool2d"](tuple(k["kernel"]), tuple(k["strides"]), pads)
        return nn.MaxPool2d(tuple(k["kernel"]), tuple(k["strides"]))
    if op.kind == "avgpool":
        pads = _pad4(k["pads"])
        if any(pads):
            return extra["AvgPoolRealElements"](k["kernel"], k["strides"], pads)
        return nn.AvgPool2d(tuple(k["kernel"]), tuple(k["strides"]))
    if op.kind == "global_avgpool":
        return extra["GlobalAvgPool"]()
    if op.kind == "batchnorm":
        cls = nn.BatchNorm2d if k["rank"] == 4 else nn.BatchNorm1d
        layer = cls(len(a["gamma"]), eps=k["eps"], momentum=k["momentum"], dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(tensor(a["gamma"]))
            layer.bias.copy_(tensor(a["beta"]))
            layer.running_mean.copy_(tensor(a["mean"]))
            layer.running_var.copy_(tensor(a["var"]))
        return layer
    if op.kind == "dropout":
        return nn.Dropout(k["rate"])
    if op.kind == "flatten":
        return nn.Flatten()
    if op.kind == "prelu":
        C = len(a["alpha"])
        layer = nn.PReLU(C, dtype=dtype) if (k["channel_axis"] == 1 or k["rank"] == 2) \
            else extra["LastAxisPReLU"](C, dtype)
        with torch.no_grad():
            layer.weight.copy_(tensor(a["alpha"]))
        return layer
    if op.kind == "activation":
        spec, name = k["spec"], k["spec"]["name"]
        if name == "leaky_relu":
            return nn.LeakyReLU(spec["alpha"])
        if name == "elu":
            return nn.ELU(spec["alpha"])
        if name == "softmax":
            return nn.Softmax(dim=k["axis"])
        if name == "gelu":
            return nn.GELU(approximate=spec.get("approximate", "none"))
        simple = {"relu": nn.ReLU, "selu": nn.SELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softplus": nn.Softplus,
                  "swish": nn.SiLU}
        return simple[name]()
    if op.kind == "add":
        return extra["Add"]()
    if op.kind == "multiply":
        return extra["Multiply"]()
    if op.kind == "concat":
        return extra["Concat"](k["axis"])
    raise GlassnetError(f"no torch export for operation {op.kind!r}")  # the plan only makes the above


#: (torch key suffix, how a torch tensor maps back to the glassnet array) per op kind and target
_BACK = {
    "dense": {"W": ("weight", lambda t: t.T), "b": ("bias", lambda t: t)},
    "conv": {"W": ("weight", lambda t: t.transpose(2, 3, 1, 0)), "b": ("bias", lambda t: t)},
    "batchnorm": {"gamma": ("weight", lambda t: t), "beta": ("bias", lambda t: t),
                  "mean": ("running_mean", lambda t: t), "var": ("running_var", lambda t: t)},
    "prelu": {"alpha": ("weight", lambda t: t)},
}


def load_state_dict_into(model, state_dict, model_index: int = 0):
    """Write ``state_dict`` (of a module shaped like ``to_torch(model, model_index)``: same keys and
    shapes; BatchNorm's ``num_batches_tracked`` is ignored) into network ``model_index`` of ``model``.
    Nothing is written unless every key matches. Returns ``model``."""
    check_model(model)
    (m,) = model_indices(model, model_index)
    if not hasattr(state_dict, "items"):
        raise GlassnetError(f"state_dict must be a mapping of names to tensors, got {type(state_dict).__name__}",
                            field="state_dict")
    given = {k: _as_numpy(v) for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
    writes, expected = [], set()
    for op in plan(model, m):
        for target_name, (suffix, back) in _BACK.get(op.kind, {}).items():
            if target_name not in op.targets:
                continue
            key = f"{op.name}.{suffix}"
            expected.add(key)
            if key not in given:
                continue
            target = op.targets[target_name]
            array = target.value if hasattr(target, "value") else target
            value = back(given[key])
            if value.shape != array.shape[1:]:
                raise GlassnetError(f"state_dict[{key!r}] has shape {tuple(given[key].shape)}; network "
                                    f"{m} needs {_torch_shape(op.kind, target_name, array.shape[1:])}",
                                    field="state_dict")
            writes.append((array, value))
    missing, unexpected = sorted(expected - set(given)), sorted(set(given) - expected)
    if missing or unexpected:
        raise GlassnetError(f"state_dict does not match the model: missing {missing}, unexpected {unexpected}",
                            field="state_dict")
    for array, value in writes:
        if not np.all(np.isfinite(value)):
            raise GlassnetError("state_dict holds NaN or infinite values", field="state_dict")
    for array, value in writes:
        array[m] = value.astype(array.dtype, copy=False)
    return model


def _as_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _torch_shape(kind, target, shape):
    if kind == "dense" and target == "W":
        return tuple(reversed(shape))
    if kind == "conv" and target == "W":
        kh, kw, C, F = shape
        return (F, C, kh, kw)
    return tuple(shape)


__all__ = ["load_state_dict_into", "to_torch"]
