"""Small worked explanations: softmax and cross-entropy, parameter counts, activation functions.

Each function returns a dataclass with the numbers (for code and tests) whose ``str()`` is the
worked explanation the CLI prints (``glassnet explain softmax|params|activation``). The numbers
come from the engine: ``activations.softmax``, the ``softmax_cross_entropy`` loss, the activation
objects' value and derivative.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import activations as acts
from .. import losses as losses_mod
from ..errors import GlassnetError


def _g(v) -> str:
    return f"{float(v):.6g}"


# -- softmax -------------------------------------------------------------------------------------

@dataclass
class SoftmaxExplanation:
    """softmax(z)_i = exp(z_i) / sum_j exp(z_j); the predicted class is the argmax; with a label y,
    the cross-entropy is -log p_y (seed 004: z = (7, 1, 2.2), y = A -> 98.9%, 0.25%, 0.81%, 0.011)."""

    z: np.ndarray
    exp: np.ndarray
    probs: np.ndarray
    predicted: int
    label: int | None
    cross_entropy: float | None
    names: list = field(default_factory=list)

    def __str__(self):
        out = ["softmax(z)_i = exp(z_i) / sum_j exp(z_j)", ""]
        w = max(5, *(len(n) for n in self.names))
        out.append(f"  {'class':<{w}}  {'z':>10}  {'exp(z)':>12}  {'p':>8}")
        for n, zi, ei, pi in zip(self.names, self.z, self.exp, self.probs):
            out.append(f"  {n:<{w}}  {_g(zi):>10}  {_g(ei):>12}  {pi:>8.2%}")
        out.append(f"  {'sum':<{w}}  {'':>10}  {_g(self.exp.sum()):>12}  {self.probs.sum():>8.2%}")
        out += ["", f"predicted class: {self.names[self.predicted]} (p = {self.probs[self.predicted]:.2%})"]
        if self.label is not None:
            p = self.probs[self.label]
            out.append(f"cross-entropy with label {self.names[self.label]}: -log p = -log({_g(p)}) "
                       f"= {_g(self.cross_entropy)}")
        return "\n".join(out)


def explain_softmax(z, label: int | None = None, names=None) -> SoftmaxExplanation:
    """Probabilities, predicted class and (with ``label``) the cross-entropy for scores ``z`` (K,).

    ``names`` label the classes (default 0..K-1). exp(z) is shown unshifted as in the textbook
    when it fits in a float; the probabilities are computed stably (shifted by max z) either way.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 1 or z.size < 2 or not np.all(np.isfinite(z)):
        raise GlassnetError(f"z must be 2 or more finite scores, got {z.tolist()!r}")
    K = z.size
    names = [str(i) for i in range(K)] if names is None else [str(n) for n in names]
    if len(names) != K:
        raise GlassnetError(f"names must give {K} class names, got {len(names)}")
    if label is not None and (isinstance(label, bool) or not isinstance(label, (int, np.integer))
                              or not 0 <= label < K):
        raise GlassnetError(f"label must be a class index in [0, {K}), got {label!r}")
    probs = acts.softmax(z)
    with np.errstate(over="ignore"):
        e = np.exp(z)
    if not np.all(np.isfinite(e)):
        e = np.exp(z - z.max())  # too large to show unshifted
    ce = None
    if label is not None:
        loss = losses_mod.get("softmax_cross_entropy")
        ce = float(loss.value(z[None, None, :], np.array([int(label)]))[0])
    return SoftmaxExplanation(z, e, probs, int(np.argmax(probs)), None if label is None else int(label), ce, names)


# -- parameter counts ----------------------------------------------------------------------------

@dataclass
class LayerCount:
    name: str
    weights: int
    biases: int
    formula: str

    @property
    def total(self) -> int:
        return self.weights + self.biases


@dataclass
class ParamCount:
    """Per-layer weight and bias counts and the total; ``str()`` shows each layer's formula."""

    layers: list[LayerCount]

    @property
    def total(self) -> int:
        return sum(l.total for l in self.layers)

    def __str__(self):
        w = max(len(l.name) for l in self.layers)
        out = [f"  {l.name:<{w}}  {l.formula} = {l.total:,}" for l in self.layers]
        return "\n".join(out + [f"  {'total':<{w}}  {self.total:,} parameters"])


def _sizes(values, name, low=1) -> list[int]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise GlassnetError(f"{name} must be integers >= {low}, got {list(values)!r}")
        out.append(int(v))
    return out


def count_params(sizes, use_bias: bool = True) -> ParamCount:
    """A dense stack ``sizes = [inputs, hidden..., outputs]``: layer k has n_k * n_{k+1} weights
    and n_{k+1} biases (seed 004: 6 32 32 32 4 -> 224 + 1,056 + 1,056 + 132 = 2,468)."""
    sizes = _sizes(list(sizes), "sizes")
    if len(sizes) < 2:
        raise GlassnetError(f"sizes needs the input size and at least one layer, got {sizes!r}")
    rows = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        rows.append(LayerCount(f"dense {k} ({a} -> {b})", a * b, b if use_bias else 0,
                               f"{a}·{b}" + (f" + {b}" if use_bias else "")))
    return ParamCount(rows)


def count_conv_params(channels, kernel_size=3, use_bias: bool = True) -> ParamCount:
    """A conv stack ``channels = [input channels, filters of layer 1, ...]``: layer k has
    kh * kw * c_in * c_out weights and c_out biases, whatever the image size. ``kernel_size`` is
    an int, a pair ``(kh, kw)``, or a list with one of those per layer."""
    channels = _sizes(list(channels), "channels")
    if len(channels) < 2:
        raise GlassnetError(f"channels needs the input channels and at least one layer, got {channels!r}")
    n = len(channels) - 1
    ks = kernel_size if isinstance(kernel_size, list) else [kernel_size] * n
    if len(ks) != n:
        raise GlassnetError(f"kernel_size must be one size or {n} (one per layer), got {kernel_size!r}")
    rows = []
    for k, (cin, cout, ksz) in enumerate(zip(channels[:-1], channels[1:], ks), start=1):
        kh, kw = (ksz, ksz) if isinstance(ksz, (int, np.integer)) else tuple(ksz)
        kh, kw = _sizes([kh, kw], "kernel_size")
        rows.append(LayerCount(f"conv {k} ({kh}x{kw}, {cin} -> {cout})", kh * kw * cin * cout,
                               cout if use_bias else 0,
                               f"{kh}·{kw}·{cin}·{cout}" + (f" + {cout}" if use_bias else "")))
    return ParamCount(rows)


# -- activation functions ------------------------------------------------------------------------

@dataclass
class ActivationExplanation:
    """An activation's formula, derivative, range and values at a few points (engine numbers)."""

    name: str
    formula: str
    derivative_formula: str
    output_range: str
    points: np.ndarray
    values: np.ndarray
    derivatives: np.ndarray
    note: str = ""
    plot: str | None = None

    def __str__(self):
        out = [f"{self.name}", f"  {self.formula}", f"  {self.derivative_formula}",
               f"  range: {self.output_range}"]
        if self.note:
            out.append(f"  note: {self.note}")
        out += ["", f"  {'z':>8}  {'f(z)':>12}  {chr(39).join(['f', '(z)']):>12}"]
        for z, v, d in zip(self.points, self.values, self.derivatives):
            out.append(f"  {_g(z):>8}  {_g(v):>12}  {_g(d):>12}")
        if self.plot:
            out += ["", f"  plot: {self.plot}"]
        return "\n".join(out)


def explain_activation(name, points=(-2.0, -1.0, 0.0, 1.0, 2.0), plot=None) -> ActivationExplanation:
    """Formula, derivative formula, output range and values of an activation (a registry name or
    a ``{"name": ..., **options}`` dict), with ``plot=path`` a figure of f and f' on [-5, 5].

    Softmax is not elementwise: its values are computed on ``points`` as one vector and the
    derivative column is the Jacobian's diagonal s_i (1 - s_i); its plot is the two-class
    softmax(z, 0)_0, which is the sigmoid.
    """
    fn = acts.get(name)
    z = np.asarray(points, dtype=np.float64).reshape(-1)
    if z.size == 0 or not np.all(np.isfinite(z)):
        raise GlassnetError(f"points must be finite numbers, got {points!r}")
    note = ""
    if fn.elementwise:
        a = fn(z)
        d = fn.derivative(z, a)
    else:
        a = fn(z)
        d = a * (1 - a)
        note = "not elementwise: values are softmax(points) as one vector; f' column is ds_i/dz_i"
    out = ActivationExplanation(fn.name, fn.formula, fn.derivative_formula, fn.output_range,
                                z, np.asarray(a, dtype=np.float64), np.asarray(d, dtype=np.float64), note)
    if plot is not None:
        out.plot = str(_plot(fn, plot))
    return out


def _plot(fn, path):
    from pathlib import Path  # noqa: PLC0415

    from matplotlib.figure import Figure  # noqa: PLC0415 - matplotlib only when plotting

    zz = np.linspace(-5, 5, 501)
    if fn.elementwise:
        a, d, label = fn(zz), fn.derivative(zz, fn(zz)), fn.name
    else:
        s = fn(np.stack([zz, np.zeros_like(zz)], axis=-1))[:, 0]
        a, d, label = s, s * (1 - s), "softmax(z, 0)[0]"
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.plot(zz, a, lw=2, label=f"{label}: {fn.formula}")
    ax.plot(zz, d, "--", lw=1.5, label=fn.derivative_formula)
    ax.set_xlabel("z")
    ax.set_title(f"{fn.name} and its derivative")
    ax.legend(loc="best", fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
