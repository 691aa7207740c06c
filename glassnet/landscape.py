"""Loss landscapes and mode connectivity on the model axis.

Every point of a slice is one network on the model axis: the ``P`` parameter vectors of a slice
are stacked into an ensemble of ``P`` models of the same architecture and evaluated in one
batched forward pass (a 41x41 slice is one evaluation of 1,681 models; large slices are cut into
chunks that fit a memory budget).

* :func:`random_direction`: a Gaussian direction, *filter-normalized* (Li et al. 2018,
  "Visualizing the Loss Landscape of Neural Nets", https://arxiv.org/abs/1712.09913): for each
  filter ``j`` of a weight (an output unit of a Dense kernel: the column ``W[:, j]``; an output
  channel of a convolution), ``d_j <- d_j / ||d_j|| * ||theta_j||``, so a step of 1 moves every
  filter by its own size and networks of different weight scales compare. Biases and other
  1-D parameters get direction 0 (as in the paper), or are scaled as a whole (``biases="keep"``).
* :func:`slice_1d` / :func:`slice_2d`: ``L(theta + a d1 (+ b d2))`` on a grid.
* :func:`interpolate`: ``L((1 - t) theta_A + t theta_B)`` for ``t`` in [0, 1], and its
  :func:`barrier`: ``max_t L(t) - ((1 - t) L(0) + t L(1))`` (Frankle et al. 2020,
  https://arxiv.org/abs/1912.05671; Entezari et al. 2022, https://arxiv.org/abs/2110.06296).
* :func:`align`: permute (and, for odd activations, flip the sign of) network B's hidden units
  so they match network A's: a Hungarian matching (``scipy.optimize.linear_sum_assignment``)
  on the correlations of their incoming weights, layer by layer (``method="weights"``), or of
  their activations on data (``method="activations"``; Li et al. 2016, "Convergent Learning",
  https://arxiv.org/abs/1511.07543). The aligned network computes the same function as B.

A *point* is one network's parameters: a list of arrays, one per ``model.param_list`` entry,
without the model axis (:func:`point` reads one from a model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import activations as acts
from . import losses as losses_mod
from . import metrics as metrics_mod
from .backend import memory_budget
from .errors import GlassnetError

#: activation functions with f(-z) = -f(z): a hidden unit's sign can be flipped
ODD = (acts.Identity, acts.Tanh)
#: default bytes for the activations of one evaluation chunk
CHUNK_BYTES = 16 * 2**20


# -- points and ensembles ---------------------------------------------------------------------------
def point(model, m: int = 0) -> list[np.ndarray]:
    """Network ``m``'s parameters (copies), one array per ``model.param_list`` entry."""
    _check_model(model)
    if not 0 <= int(m) < model.M:
        raise GlassnetError(f"model index {m} is out of range for {model.M} networks", field="m", value=m)
    return [p.value[int(m)].copy() for p in model.param_list]


def _check_model(model) -> None:
    if not getattr(model, "built", False) or not hasattr(model, "param_list"):
        raise GlassnetError("give a built glassnet model (Sequential with input_shape, or fitted)", field="model")


def _check_point(model, pt, name: str) -> list[np.ndarray]:
    shapes = [p.value.shape[1:] for p in model.param_list]
    if not isinstance(pt, (list, tuple)) or len(pt) != len(shapes) or \
            any(np.shape(a) != s for a, s in zip(pt, shapes)):
        raise GlassnetError(f"{name} must be a list of {len(shapes)} arrays shaped like one network's parameters "
                            f"({', '.join(str(s) for s in shapes)})", field=name)
    return [np.asarray(a, dtype=model.dtype) for a in pt]


def ensemble(model, stacked, m: int = 0):
    """A model of the same architecture whose ``P`` networks have the parameters ``stacked``
    (one ``(P, ...)`` array per parameter), for inference; its buffers (batch-norm statistics)
    are network ``m``'s.

    Nothing is drawn: the architecture is built dry for one network and widened to ``P`` by
    setting the arrays. Such a model only runs in inference mode, where no random stream is
    used, so its ``P`` networks share one (seeding 1,681 separate streams would cost more than
    evaluating the slice).
    """
    from .layers import from_config  # noqa: PLC0415
    from .model import Sequential  # noqa: PLC0415

    P = int(stacked[0].shape[0])
    ens = Sequential([from_config(layer.config()) for layer in model.layers], None, seed=[0],
                     dtype=model.dtype.name)
    ens.build(model.input_shape, dry=True)
    ens.M, ens.ensemble = P, True
    ens.seeds, ens.streams = [0] * P, ens.streams * P
    for p, a in zip(ens.param_list, stacked):
        p.value = np.array(a, dtype=model.dtype, order="C")   # a copy: never an alias of the caller's arrays
    for src, dst in zip(model.layers, ens.layers):
        for k, b in src.buffers.items():
            dst.buffers[k] = np.broadcast_to(b[m], (P,) + b.shape[1:]).copy()
    return ens


def evaluate(model, stacked, x, y, loss, metrics=(), max_models: int | None = None, m: int = 0) -> dict:
    """Data loss (and ``metrics``) in inference mode of the ``P`` networks ``stacked``: ``(P,)``
    arrays. Evaluated in chunks of at most ``max_models`` networks (default: as many as fit
    :data:`CHUNK_BYTES` of activations); ``result["chunks"]`` says how many."""
    loss = losses_mod.get(loss)
    x = model.prepare_inputs(x)
    y = loss.prepare_targets(y, model.output_shape)
    y = y.astype(model.dtype, copy=False) if np.issubdtype(y.dtype, np.floating) else y
    P = int(stacked[0].shape[0])
    chunk = max_models or _chunk_size(model, x.shape[0])
    chunk = max(1, min(P, int(chunk)))
    mets = {metrics_mod.get(s).name: metrics_mod.get(s) for s in metrics}
    out = {"loss": np.empty(P), **{k: np.empty(P) for k in mets}}
    n_chunks = 0
    with np.errstate(all="ignore"):
        for lo in range(0, P, chunk):
            hi = min(P, lo + chunk)
            ens = ensemble(model, [a[lo:hi] for a in stacked], m)
            pred = ens.forward(x, False)
            out["loss"][lo:hi] = loss.value(pred, y)
            for k, met in mets.items():
                out[k][lo:hi] = met(pred, y, loss)
            n_chunks += 1
    out["chunks"] = n_chunks
    return out


def _chunk_size(model, n: int) -> int:
    widths = [int(np.prod(layer.output_shape)) for layer in model.layers]
    per_model = 3 * n * sum(widths) * model.dtype.itemsize + 2 * sum(
        p.value[0].nbytes for p in model.param_list)
    budget = min(CHUNK_BYTES, memory_budget() // 4)
    return max(1, budget // max(1, per_model))


# -- directions ------------------------------------------------------------------------------------
def random_direction(model, rng=0, m: int = 0, normalization: str = "filter", biases: str = "zero",
                     center=None) -> list[np.ndarray]:
    """A random direction around network ``m`` (or the point ``center``), as a point.

    ``normalization``: ``"filter"`` (Li et al.), ``"layer"`` (each parameter scaled to the norm of
    its own weights) or ``"none"`` (plain Gaussian). ``biases``: ``"zero"`` (direction 0 for every
    1-D parameter: biases, normalization scales) or ``"keep"`` (scaled like a layer).
    ``rng``: a seed or a ``numpy.random.Generator``.
    """
    if normalization not in ("filter", "layer", "none"):
        raise GlassnetError(f"normalization must be 'filter', 'layer' or 'none', got {normalization!r}",
                            field="normalization", value=normalization)
    if biases not in ("zero", "keep"):
        raise GlassnetError(f"biases must be 'zero' or 'keep', got {biases!r}", field="biases", value=biases)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    theta = point(model, m) if center is None else _check_point(model, center, "center")
    out = []
    for w in theta:
        d = rng.standard_normal(w.shape)
        if w.ndim <= 1:
            if biases == "zero":
                d = np.zeros_like(d)
            elif normalization != "none":
                d *= np.linalg.norm(w) / (np.linalg.norm(d) + 1e-12)
        elif normalization == "filter":
            axes = tuple(range(w.ndim - 1))     # a filter: everything feeding one output unit/channel
            d *= np.sqrt((w ** 2).sum(axis=axes, keepdims=True)) / (np.sqrt((d ** 2).sum(axis=axes, keepdims=True))
                                                                    + 1e-12)
        elif normalization == "layer":
            d *= np.linalg.norm(w) / (np.linalg.norm(d) + 1e-12)
        out.append(d.astype(model.dtype))
    return out


def along(center, directions, coords) -> list[np.ndarray]:
    """``(P, ...)`` arrays of the points ``center + sum_i coords[:, i] * directions[i]``, in the
    parameters' dtype."""
    coords = np.asarray(coords, dtype=np.float64)
    coords = coords[:, None] if coords.ndim == 1 else coords
    P = coords.shape[0]
    out = []
    for i, c in enumerate(center):
        a = np.empty((P,) + c.shape, dtype=c.dtype)
        a[...] = c
        for j, d in enumerate(directions):
            a += coords[:, j].astype(c.dtype).reshape((-1,) + (1,) * c.ndim) * d[i]
        out.append(a)
    return out


# -- slices ----------------------------------------------------------------------------------------
@dataclass
class Slice:
    """Loss on a 1-D line (``loss (A,)``) or a 2-D plane (``loss (A, B)``) around ``center``;
    ``alphas``/``betas`` are the coordinates along ``directions``; ``metrics`` likewise shaped.
    ``models`` networks were evaluated in ``chunks`` batched passes."""

    alphas: np.ndarray
    betas: np.ndarray | None
    loss: np.ndarray
    metrics: dict
    center: list
    directions: list
    models: int
    chunks: int

    @property
    def center_loss(self) -> float:
        """The loss at the grid point nearest the origin."""
        i = int(np.argmin(np.abs(self.alphas)))
        return float(self.loss[i] if self.betas is None else self.loss[i, int(np.argmin(np.abs(self.betas)))])

    def rise(self, radius: float) -> float:
        """Mean loss increase over the grid points at distance ``radius`` (1-D: ``|alpha| ==
        radius``, nearest grid points) from the center: a sharpness measure."""
        if self.betas is None:
            idx = [int(np.argmin(np.abs(self.alphas - s * radius))) for s in (-1, 1)]
            return float(np.mean(self.loss[idx]) - self.center_loss)
        A, B = np.meshgrid(self.alphas, self.betas, indexing="ij")
        r = np.hypot(A, B)
        step = max(np.min(np.diff(self.alphas)), np.min(np.diff(self.betas)))
        ring = np.abs(r - radius) <= step / 2
        return float(np.mean(self.loss[ring]) - self.center_loss)

    def width(self, rise: float) -> float:
        """1-D: the length of the interval around the center where the loss stays within
        ``rise`` of the center's (a flatness measure; the whole range if it never leaves)."""
        if self.betas is not None:
            raise GlassnetError("width is defined for 1-D slices", field="slice")
        ok = self.loss <= self.center_loss + rise
        c = int(np.argmin(np.abs(self.alphas)))
        lo = c
        while lo > 0 and ok[lo - 1]:
            lo -= 1
        hi = c
        while hi < len(ok) - 1 and ok[hi + 1]:
            hi += 1
        return float(self.alphas[hi] - self.alphas[lo])


def slice_1d(model, x, y, loss, *, m: int = 0, direction=None, alphas=None, rng=0, normalization="filter",
             biases="zero", metrics=(), max_models=None) -> Slice:
    """``L(theta_m + a d)`` for ``a`` in ``alphas`` (default 41 points in [-1, 1]); ``d`` a
    filter-normalized random direction unless given. One batched evaluation (see module doc)."""
    theta = point(model, m)
    d = random_direction(model, rng, m, normalization, biases) if direction is None else \
        _check_point(model, direction, "direction")
    alphas = np.linspace(-1, 1, 41) if alphas is None else np.asarray(alphas, dtype=float)
    res = evaluate(model, along(theta, [d], alphas), x, y, loss, metrics, max_models, m)
    return Slice(alphas, None, res.pop("loss"), {k: v for k, v in res.items() if k != "chunks"}, theta, [d],
                 len(alphas), res["chunks"])


def slices_1d(model, x, y, loss, count: int, *, m: int = 0, alphas=None, rng=0, normalization="filter",
              biases="zero", metrics=(), max_models=None) -> list[Slice]:
    """``count`` 1-D slices around network ``m`` along independent random directions, all
    ``count x len(alphas)`` points evaluated as one ensemble (see :func:`slice_1d`)."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise GlassnetError(f"count must be a positive integer, got {count!r}", field="count", value=count)
    theta = point(model, m)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    dirs = [random_direction(model, rng, m, normalization, biases) for _ in range(count)]
    alphas = np.linspace(-1, 1, 41) if alphas is None else np.asarray(alphas, dtype=float)
    A = len(alphas)
    parts = [along(theta, [d], alphas) for d in dirs]
    stacked = [np.concatenate([p[i] for p in parts]) for i in range(len(theta))]
    res = evaluate(model, stacked, x, y, loss, metrics, max_models, m)
    return [Slice(alphas, None, res["loss"][k * A:(k + 1) * A],
                  {n: v[k * A:(k + 1) * A] for n, v in res.items() if n not in ("loss", "chunks")}, theta, [d],
                  count * A, res["chunks"]) for k, d in enumerate(dirs)]


def slice_2d(model, x, y, loss, *, m: int = 0, directions=None, alphas=None, betas=None, rng=0,
             normalization="filter", biases="zero", metrics=(), max_models=None) -> Slice:
    """``L(theta_m + a d1 + b d2)`` on the grid ``alphas x betas`` (default 41 x 41 in [-1, 1]^2):
    ``loss[i, j]`` at ``(alphas[i], betas[j])``; every grid point one network of one batched
    evaluation."""
    theta = point(model, m)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if directions is None:
        directions = [random_direction(model, rng, m, normalization, biases) for _ in range(2)]
    elif len(directions) != 2:
        raise GlassnetError("slice_2d needs two directions", field="directions")
    directions = [_check_point(model, d, "directions") for d in directions]
    alphas = np.linspace(-1, 1, 41) if alphas is None else np.asarray(alphas, dtype=float)
    betas = alphas if betas is None else np.asarray(betas, dtype=float)
    A, B = np.meshgrid(alphas, betas, indexing="ij")
    coords = np.stack([A.ravel(), B.ravel()], axis=1)
    res = evaluate(model, along(theta, directions, coords), x, y, loss, metrics, max_models, m)
    shape = (len(alphas), len(betas))
    return Slice(alphas, betas, res.pop("loss").reshape(shape),
                 {k: v.reshape(shape) for k, v in res.items() if k != "chunks"}, theta, directions, coords.shape[0],
                 res["chunks"])


# -- paths between two networks ------------------------------------------------------------------
@dataclass
class Path:
    """Loss along the straight line from network A (``t = 0``) to B (``t = 1``)."""

    ts: np.ndarray
    loss: np.ndarray
    metrics: dict

    @property
    def barrier(self) -> float:
        return barrier(self.ts, self.loss)

    @property
    def peak(self) -> float:
        """``t`` where the loss sits highest above the straight line between the ends."""
        return float(self.ts[int(np.argmax(_excess(self.ts, self.loss)))])


def _excess(ts, values):
    ts, values = np.asarray(ts, float), np.asarray(values, float)
    return values - ((1 - ts) * values[0] + ts * values[-1])


def barrier(ts, values) -> float:
    """``max_t L(t) - ((1 - t) L(0) + t L(1))`` (0 when the loss never rises above the chord);
    ``ts`` must start at 0 and end at 1."""
    ts = np.asarray(ts, float)
    if ts.size < 2 or ts[0] != 0 or ts[-1] != 1:
        raise GlassnetError("barrier needs ts running from 0 to 1", field="ts")
    return float(max(0.0, np.max(_excess(ts, values))))


def interpolate(model, a, b, x, y, loss, ts=None, metrics=(), max_models=None) -> Path:
    """``L((1 - t) a + t b)`` for ``t`` in ``ts`` (default 21 points in [0, 1]); ``a``, ``b``:
    points (:func:`point`) or indices of networks of ``model``. Models with buffers (batch norm)
    are refused: their statistics would need recomputing along the path."""
    if any(layer.buffers for layer in model.layers):
        raise GlassnetError("interpolating networks with batch-norm statistics is not supported (they would need "
                            "recomputing along the path)", field="model")
    pa = point(model, a) if isinstance(a, (int, np.integer)) else _check_point(model, a, "a")
    pb = point(model, b) if isinstance(b, (int, np.integer)) else _check_point(model, b, "b")
    ts = np.linspace(0, 1, 21) if ts is None else np.asarray(ts, dtype=float)
    diffs = [q - p for p, q in zip(pa, pb)]
    res = evaluate(model, along(pa, [diffs], ts), x, y, loss, metrics, max_models)
    return Path(ts, res.pop("loss"), {k: v for k, v in res.items() if k != "chunks"})


# -- aligning hidden units -----------------------------------------------------------------------
@dataclass
class Alignment:
    """How network B's hidden units map onto A's: for each hidden Dense layer (by index in
    ``model.layers``), ``perms[i][j]`` is the unit of B placed at A's unit ``j`` and
    ``signs[i][j]`` its sign (all +1 without sign flips); ``point`` is B aligned;
    ``similarity[i]`` the mean matched correlation, before and after."""

    layers: list
    perms: list
    signs: list
    point: list
    similarity: list


def _dense_chain(model):
    """Indices of the Dense layers of a Sequential and, for each hidden one, whether everything
    between it and the next Dense is an odd function; raises for other layers with parameters."""
    from .layers import Activation, Dense, Dropout  # noqa: PLC0415

    dense, odd = [], []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            dense.append(i)
            odd.append([isinstance(layer.act, Activation) and isinstance(layer.act.fn, ODD)])
        elif isinstance(layer, Activation):
            if not dense:
                raise GlassnetError("align needs a Dense layer first", field="model")
            odd[-1].append(isinstance(layer.fn, ODD))
        elif isinstance(layer, Dropout):
            continue
        else:
            raise GlassnetError(f"align supports Dense, Activation and Dropout layers; {layer.name} is "
                                f"{type(layer).__name__}", field="model")
        if layer.buffers or (not isinstance(layer, Dense) and layer.params):
            raise GlassnetError(f"align cannot permute {layer.name}'s parameters", field="model")
    if len(dense) < 2:
        raise GlassnetError("align needs at least two Dense layers (one hidden layer)", field="model")
    return dense, [all(o) for o in odd]


def _corr(a, b):
    """Pearson correlations between the rows of ``a (H, n)`` and of ``b (H, n)``: ``(H, H)``."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-12)
    b = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-12)
    return a @ b.T


def _params_of(model, pt):
    """``{layer index: {short name: array}}`` view of a point."""
    out, i = {}, 0
    for li, layer in enumerate(model.layers):
        for short in layer.params:
            out.setdefault(li, {})[short] = pt[i]
            i += 1
    return out


def permute(model, pt, perms: dict, signs: dict | None = None) -> list[np.ndarray]:
    """The point ``pt`` with the hidden units of Dense layer ``i`` reordered by ``perms[i]`` (new
    unit ``j`` = old unit ``perms[i][j]``) and multiplied by ``signs[i]`` (odd activations only):
    the same function, other coordinates."""
    dense, odd = _dense_chain(model)
    signs = signs or {}
    new = [a.copy() for a in pt]
    by_layer = _params_of(model, new)
    for k, li in enumerate(dense[:-1]):
        if li not in perms:
            continue
        perm = np.asarray(perms[li])
        s = np.asarray(signs.get(li, np.ones(len(perm))), dtype=new[0].dtype)
        if np.any(s < 0) and not odd[k]:
            raise GlassnetError(f"layer {model.layers[li].name}: sign flips need an odd activation (tanh, linear)",
                                field="signs")
        here, nxt = by_layer[li], by_layer[dense[k + 1]]
        here["W"][...] = here["W"][:, perm] * s
        if "b" in here:
            here["b"][...] = here["b"][perm] * s
        nxt["W"][...] = nxt["W"][perm, :] * s[:, None]
    return new


def align(model, a=0, b=1, method: str = "weights", x=None, signs: bool | None = None,
          max_sweeps: int = 20) -> Alignment:
    """Align network ``b``'s hidden units to network ``a``'s (indices into ``model`` or points).

    Units are matched by the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) on a
    correlation matrix ``C[i, j]`` between A's unit ``i`` and B's unit ``j``, maximizing the total
    correlation, or, with ``signs``, its absolute value, flipping the units whose match correlates
    negatively. ``signs`` defaults to True where the activation is odd (tanh, linear).

    ``method="weights"``: a unit's feature is its incoming weights and bias; layer by layer from
    the input (each layer's incoming weights already in A's order below it), then repeated sweeps
    that add the outgoing weights (in the order the layer above currently has) until no unit
    moves, at most ``max_sweeps`` (coordinate ascent, as in Git Re-Basin's weight matching,
    Ainsworth et al. 2023, https://arxiv.org/abs/2209.04836, with correlations for inner
    products). ``method="activations"``: a unit's feature is its activations on ``x``, layer by
    layer (Li et al. 2016).
    """
    from scipy.optimize import linear_sum_assignment  # noqa: PLC0415 - scipy only when aligning

    if method not in ("weights", "activations"):
        raise GlassnetError(f"method must be 'weights' or 'activations', got {method!r}", field="method", value=method)
    if method == "activations" and x is None:
        raise GlassnetError("method='activations' needs x (inputs to compare the units on)", field="x")
    dense, odd = _dense_chain(model)
    hidden = dense[:-1]
    flips = {}
    for k, li in enumerate(hidden):
        flips[li] = odd[k] if signs is None else bool(signs)
        if flips[li] and not odd[k]:
            raise GlassnetError(f"layer {model.layers[li].name}: sign flips need an odd activation (tanh, linear)",
                                field="signs", value=signs)
    pa = point(model, a) if isinstance(a, (int, np.integer)) else _check_point(model, a, "a")
    pb = point(model, b) if isinstance(b, (int, np.integer)) else _check_point(model, b, "b")
    xa = model.prepare_inputs(x) if method == "activations" else None

    def features(pt, li, outgoing):
        if method == "activations":
            return _hidden(model, pt, li, xa).T
        f = _incoming(model, pt, li)
        if outgoing:
            f = np.concatenate([f, _params_of(model, pt)[dense[dense.index(li) + 1]]["W"]], axis=1)
        return f

    perms = {li: np.arange(model.layers[li].units) for li in hidden}
    sgns = {li: np.ones(model.layers[li].units) for li in hidden}
    cur = [q.copy() for q in pb]

    def match(li, outgoing) -> bool:
        nonlocal cur
        C = _corr(features(pa, li, outgoing), features(cur, li, outgoing))
        rows, cols = linear_sum_assignment(np.abs(C) if flips[li] else C, maximize=True)
        perm = cols[np.argsort(rows)]
        s = np.sign(C[np.arange(len(perm)), perm]) if flips[li] else np.ones(len(perm))
        s[s == 0] = 1
        if np.array_equal(perm, np.arange(len(perm))) and (s > 0).all():
            return False
        cur = permute(model, cur, {li: perm}, {li: s})
        perms[li], sgns[li] = perms[li][perm], sgns[li][perm] * s
        return True

    for li in hidden:
        match(li, outgoing=False)
    if method == "weights":
        for _ in range(max_sweeps):
            if not any([match(li, outgoing=True) for li in hidden]):
                break
    sims = []
    for li in hidden:
        out = method == "weights"
        fa = features(pa, li, out)
        sims.append((float(np.mean(np.diag(_corr(fa, features(pb, li, out))))),
                     float(np.mean(np.diag(_corr(fa, features(cur, li, out)))))))
    return Alignment(hidden, [perms[li] for li in hidden], [sgns[li] for li in hidden], cur, sims)


def _incoming(model, pt, li):
    """``(units, n_in + 1)``: each hidden unit's incoming weights and bias."""
    p = _params_of(model, pt)[li]
    W = p["W"].T
    return np.concatenate([W, p["b"][:, None]], axis=1) if "b" in p else W


def _hidden(model, pt, li, x):
    """Activations ``(N, units)`` of the output of layer ``li`` (after everything up to the next
    Dense) for the single network ``pt``."""
    ens = ensemble(model, [a[None] for a in pt])
    h = x
    dense, _ = _dense_chain(model)
    nxt = dense[dense.index(li) + 1]
    for layer in ens.layers[:nxt]:
        h = layer.forward(h, False)
    return np.asarray(h[0], dtype=np.float64)


def distance(a, b) -> float:
    """Euclidean distance between two points."""
    return float(math.sqrt(sum(float(((p - q).astype(np.float64) ** 2).sum()) for p, q in zip(a, b))))
