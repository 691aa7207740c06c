"""Renderers for a :class:`~glassnet.diagnostics.trace.Trace`: plain text, Markdown and LaTeX.

All three come from one list of equations per network, ``(lhs, op, [rhs, ...], note)``, read as
``lhs op rhs_1 = rhs_2 = ... = value``; a style object spells symbols (``dL/dw1`` or
``\\frac{\\partial L}{\\partial w_{1}}``), products and arrays.
"""

from __future__ import annotations

import numpy as np

from ..errors import GlassnetError

# the symbolic loss and its derivative for one sample and one output (B = K = 1), then in general;
# {yh} is the prediction's symbol. Presentation only: the numbers come from the loss object.
_LOSS_FORMS = {
    "half_sse": ("1/2 ({yh} - y)^2", "{yh} - y", "1/B Σ_i 1/2 ||{yh}_i - y_i||^2", "({yh} - y)/B"),
    "mse": ("({yh} - y)^2", "2 ({yh} - y)", "1/(B K) Σ ({yh} - y)^2", "2 ({yh} - y)/(B K)"),
    "binary_cross_entropy": ("-[y log {yh} + (1 - y) log(1 - {yh})]", "({yh} - y)/({yh} (1 - {yh}))",
                             "-1/B Σ [y log {yh} + (1 - y) log(1 - {yh})]",
                             "({yh} - y)/({yh} (1 - {yh}))/B"),
    "binary_cross_entropy_logits": ("log(1 + exp({yh})) - y {yh}", "sigmoid({yh}) - y",
                                    "1/B Σ [log(1 + exp({yh})) - y {yh}]", "(sigmoid({yh}) - y)/B"),
    "softmax_cross_entropy": ("-log softmax({yh})_y", "softmax({yh}) - onehot(y)",
                              "-1/B Σ_i log softmax({yh}_i)_(y_i)", "(softmax({yh}) - onehot(y))/B"),
    "cross_entropy": ("-Σ_k y_k log {yh}_k", "-y/{yh}", "-1/B Σ_i Σ_k y_ik log {yh}_ik", "-y/{yh}/B"),
}


def _fmt(v) -> str:
    v = float(v)
    if v == 0:
        return "0"
    return f"{v:.6g}"


class _TextStyle:
    name = "text"
    mul, tight_mul, arrow, T, had, yhat = " · ", "·", "←", "ᵀ", " ⊙ ", "ŷ"
    sum_batch, delta, Delta = "Σ_batch ", "δ", "Δ"

    def softmax_vjp(self, a, da):
        return f"{a} ⊙ ({da} - Σ_j {da} ⊙ {a})"

    def sub(self, base, k):
        return f"{base}{k}"

    def d(self, num, den):
        return f"d{num}/d{den}"

    def fn(self, name, arg):
        return f"{name}({arg})"

    def prime(self, name, arg):
        return f"{name}'({arg})"

    def formula(self, s):
        return s.replace("{yh}", self.yhat)

    def note(self, s):
        return s

    def num(self, v):
        s = _fmt(v)
        return f"({s})" if s.startswith("-") else s

    def value(self, a):
        a = np.asarray(a)
        if a.size == 1:
            return _fmt(a.reshape(()))
        s = np.array2string(a, separator=", ", formatter={"float_kind": _fmt, "int": str},
                            max_line_width=10**6, threshold=10**6)
        return s.replace(",\n", ",").replace("\n", " ")

    def scal(self, a):
        return self.num(np.asarray(a).reshape(()))


class _LatexStyle(_TextStyle):
    name = "latex"
    mul, tight_mul, arrow, T, had, yhat = r" \cdot ", r" \cdot ", r"\leftarrow", r"^\top", r" \odot ", r"\hat{y}"
    sum_batch, delta, Delta = r"\sum_{\text{batch}} ", r"\delta", r"\Delta "

    def softmax_vjp(self, a, da):
        return rf"{a} \odot ({da} - \sum_j {da} \odot {a})"

    def sub(self, base, k):
        return f"{base}_{{{k}}}"

    def d(self, num, den):
        return rf"\frac{{\partial {num}}}{{\partial {den}}}"

    def fn(self, name, arg):
        return rf"\mathrm{{{name}}}({arg})"

    def prime(self, name, arg):
        return rf"\mathrm{{{name}}}'({arg})"

    def formula(self, s):
        s = s.replace("{yh}", self.yhat).replace("Σ_i", r"\sum_i ").replace("Σ_k", r"\sum_k ")
        s = s.replace("Σ", r"\sum ").replace("1/2 ", r"\tfrac{1}{2}").replace("||", r"\|")
        for word in ("log", "exp"):
            s = s.replace(word, "\\" + word + " ")
        return s.replace("softmax", r"\mathrm{softmax}").replace("onehot", r"\mathrm{onehot}")

    def note(self, s):
        return r"\text{" + s.replace("_", r"\_").replace("^", r"\^{}") + "}"

    def value(self, a):
        a = np.asarray(a)
        if a.size == 1:
            return _fmt(a.reshape(()))
        rows = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(1, -1)
        body = r" \\ ".join(" & ".join(_fmt(v) for v in r) for r in rows)
        return r"\begin{bmatrix} " + body + r" \end{bmatrix}"


def _symbols(trace, st):
    L = len(trace.layers)
    big = not trace.scalar

    def a(k):
        return "x" if k == 0 else st.yhat if k == L else st.sub("a", k)

    def z(k):
        last = trace.layers[k - 1]
        return st.yhat if (k == L and last.identity and last.skip is None) else st.sub("z", k)

    def p(kind, k):
        return st.sub(("W" if big else "w") if kind in ("W", "w") else "b", k)

    return a, z, p


def _equations(trace, m: int, st) -> list[tuple[str, list]]:
    """Sections of equations for network ``m``: (title, [(lhs, op, [rhs...], note)])."""
    one = trace.scalar and trace.yhat.shape[1] == 1  # one sample through a chain: scalar formulas
    forms = _LOSS_FORMS.get(trace.loss.name)
    dloss = None if forms is None else st.formula(forms[1 if one else 3])
    dl_rhs = ([dloss] if dloss else []) + [st.value(trace.dL_dyhat[m])]
    sections = [("Forward pass", _forward(trace, m, st, forms, one))]
    if trace.scalar and not trace.skips:
        sections += _chain(trace, m, st, dl_rhs)
    else:
        sections.append(("Backward pass", _backward(trace, m, st, dl_rhs)))
    sections.append(_update(trace, m, st))
    return sections


def _forward(trace, m, st, forms, one):
    a, z, p = _symbols(trace, st)
    L = len(trace.layers)
    eqs = []
    for lt in trace.layers:
        k = lt.k
        if trace.scalar:
            lin = f"{p('W', k)}{st.tight_mul}{a(k - 1)}"
            nums = f"{st.scal(lt.W[m])}{st.mul}{st.scal(lt.inp[m])}"
        else:
            lin, nums = f"{a(k - 1)} {p('W', k)}", None
        if lt.b is not None:
            lin += f" + {p('b', k)}"
            nums = nums and f"{nums} + {st.scal(lt.b[m])}"
        rhs = [lin] + ([nums] if nums else []) + [st.value(lt.z[m])]
        if lt.identity and k == L and lt.skip is None:  # the output is z_L itself: write yhat = z_L = ...
            eqs.append((st.yhat, "=", [st.sub("z", k)] + rhs, None))
        else:
            eqs.append((z(k), "=", rhs, None))
        if lt.skip is not None:  # a skip connection: the layer's output plus an earlier tensor
            j = lt.skip
            fz = z(k) if lt.identity else st.fn(lt.activation.name, z(k))
            rhs = [f"{fz} + {a(j)}"]
            if trace.scalar:
                fz_num = st.scal(lt.z[m]) if lt.identity else st.fn(lt.activation.name, st.scal(lt.z[m]))
                rhs += [f"{fz_num} + {st.scal(_tensor(trace, j)[m])}", f"{st.scal(lt.branch[m])} + "
                        f"{st.scal(_tensor(trace, j)[m])}"]
            eqs.append((a(k), "=", rhs + [st.value(lt.a[m])], st.note(f"skip connection from {a(j)}")))
        elif not lt.identity:
            fn = lt.activation.name
            rhs = [st.fn(fn, z(k))] + ([st.fn(fn, st.scal(lt.z[m]))] if trace.scalar else [])
            eqs.append((a(k), "=", rhs + [st.value(lt.a[m])], st.note(lt.activation.formula)))
    form = None if forms is None else forms[0 if one else 2]
    rhs = [st.formula(form)] if form else [st.fn(trace.loss.name, f"{st.yhat}, y")]
    if one and trace.loss.name == "half_sse":
        rhs.append(st.formula(f"1/2 ({st.scal(trace.yhat[m])} - {st.scal(trace.y)})^2"))
    eqs.append(("L", "=", rhs + [st.value(trace.loss_value[m])], None))
    return eqs


def _chain(trace, m, st, dl_rhs):
    """A chain network: each local derivative once, then each parameter's product of them."""
    a, z, p = _symbols(trace, st)
    local, chain, seen = [], [], set()
    for pt in reversed(trace.params):
        for f in pt.chain:
            if (f.num, f.den) not in seen:
                seen.add((f.num, f.den))
                local.append(_local_line(f, trace, m, st, dl_rhs))
        names = st.mul.join(st.d(_tag(f.num, a, z, p), _tag(f.den, a, z, p)) for f in pt.chain)
        nums = st.mul.join(st.num(f.value[m]) for f in pt.chain)
        chain.append((st.d("L", p(pt.kind, pt.k)), "=", [names, nums, st.value(pt.grad[m])], None))
    return [("Local derivatives", local), ("Chain rule", chain)]


def _backward(trace, m, st, dl_rhs):
    """Any Dense network: the delta recurrence in matrix form, layer by layer from the output."""
    a, z, p = _symbols(trace, st)
    eqs = [(st.d("L", st.yhat), "=", dl_rhs, None)]
    for lt in reversed(trace.layers):
        k = lt.k
        delta, da = st.sub(st.delta, k), st.d("L", a(k))
        if lt.identity:
            eqs.append((delta, "=", [st.d("L", st.sub("z", k)), da, st.value(lt.delta[m])],
                        st.note("identity: f' = 1")))
        elif lt.fprime is None:  # softmax: a Jacobian-vector product, not an elementwise one
            eqs.append((delta, "=", [st.softmax_vjp(a(k), da), st.value(lt.delta[m])],
                        st.note("softmax Jacobian product")))
        else:
            fp = st.prime(lt.activation.name, z(k))
            eqs.append((fp, "=", [st.value(lt.fprime[m])], st.note(lt.activation.derivative_formula)))
            eqs.append((delta, "=", [f"{da}{st.had}{fp}", st.value(lt.delta[m])], None))
        eqs.append((st.d("L", p("W", k)), "=", [f"{a(k - 1)}{st.T} {delta}", _grad(trace, k, "W", m, st)], None))
        if lt.b is not None:
            eqs.append((st.d("L", p("b", k)), "=", [f"{st.sum_batch}{delta}", _grad(trace, k, "b", m, st)], None))
        if k > 1:
            eqs.append(_fan_in(trace, trace.layers[k - 2], m, st, a, p))
    return eqs


def _fan_in(trace, lt, m, st, a, p):
    """dL/da_k as the sum of what each reader of a_k sent back: layer k+1 (delta W^T) and every
    sum a_m = f(z_m) + a_k of a skip connection (dL/da_m, passed on unchanged)."""
    k = lt.k
    terms, nums = [], []
    for kind, j, value in lt.dL_da_parts:
        terms.append(f"{st.sub(st.delta, j)} {p('W', j)}{st.T}" if kind == "layer" else st.d("L", a(j)))
        nums.append(st.value(value[m]))
    rhs = [" + ".join(terms)]
    note = None
    if len(terms) > 1:
        rhs.append(" + ".join(nums))
        readers = ", ".join(f"layer {j}" if kind == "layer" else f"the sum into {a(j)}"
                            for kind, j, _ in lt.dL_da_parts)
        note = st.note(f"{a(k)} fans out to {readers}: the gradients add")
    return (st.d("L", a(k)), "=", rhs + [st.value(lt.dL_da[m])], note)


def _tensor(trace, j):
    """a_j of the trace: x for j = 0."""
    return np.broadcast_to(trace.x, (trace.M,) + trace.x.shape[-2:]) if j == 0 else trace.layers[j - 1].a


def _update(trace, m, st):
    """Plain SGD is written as w - lr*g with numbers; any other optimizer as w + delta."""
    a, z, p = _symbols(trace, st)
    sgd = trace.optimizer == "sgd" and np.allclose(
        np.concatenate([pt.delta[m].ravel() + trace.lr[m] * pt.grad[m].ravel() for pt in trace.params]), 0)
    eqs = []
    for pt in trace.params:
        sym = p(pt.kind, pt.k)
        if sgd:
            rhs = [f"{sym} - lr{st.tight_mul}{st.d('L', sym)}"]
            if trace.scalar:
                rhs.append(f"{st.scal(pt.value[m])} - {st.num(trace.lr[m])}{st.mul}{st.scal(pt.grad[m])}")
        else:
            rhs = [f"{sym} + {st.Delta}{sym}"]
        eqs.append((sym, st.arrow, rhs + [st.value(pt.new_value[m])], None))
    title = f"Update (SGD, lr = {_fmt(trace.lr[m])})" if sgd else f"Update ({trace.optimizer}, first step)"
    return (title, eqs)


def _grad(trace, k, kind, m, st):
    return st.value(next(pt.grad[m] for pt in trace.params if pt.k == k and pt.kind == kind))


def _tag(tag, a, z, p):
    if tag[0] == "L":
        return "L"
    kind, k = tag
    return {"a": a, "z": z}[kind](k) if kind in "az" else p(kind, k)


def _local_line(f, trace, m, st, dl_rhs):
    a, z, p = _symbols(trace, st)
    lhs = st.d(_tag(f.num, a, z, p), _tag(f.den, a, z, p))
    k = f.den[1] if len(f.den) > 1 else None
    if f.rule == "loss":
        rhs = list(dl_rhs)
        if trace.loss.name == "half_sse":
            rhs.insert(1, f"{st.scal(trace.yhat[m])} - {st.scal(trace.y)}")
        return (lhs, "=", rhs, None)
    if f.rule == "act":
        lt = trace.layers[k - 1]
        return (lhs, "=", [st.prime(lt.activation.name, z(k)), st.num(f.value[m])],
                st.note(lt.activation.derivative_formula))
    if f.rule == "weight":
        return (lhs, "=", [p("W", f.num[1]), st.num(f.value[m])], None)
    if f.rule == "input":
        return (lhs, "=", [a(k - 1), st.num(f.value[m])], None)
    return (lhs, "=", ["1"], None)


def _header(trace, m):
    L = len(trace.layers)
    acts = ", ".join(lt.activation.name for lt in trace.layers)
    head = f"Backprop trace: {L} layer{'s' if L > 1 else ''} ({acts}), loss {trace.loss.name}"
    if trace.skips:
        head += ", skip connection" + ("s " if len(trace.skips) > 1 else " ") + ", ".join(
            f"a{j} -> a{k}" for k, j in trace.skips.items())
    return head + (f" — network {m}" if trace.M > 1 else "")


def render(trace, format: str = "text", model: int | None = None) -> str:
    """Text, Markdown or LaTeX for one network (``model``) or each network of the trace."""
    if format not in ("text", "markdown", "latex"):
        raise GlassnetError(f"format must be 'text', 'markdown' or 'latex', got {format!r}")
    models = range(trace.M) if model is None else [model]
    if model is not None and not 0 <= model < trace.M:
        raise GlassnetError(f"model must be in [0, {trace.M}), got {model!r}")
    st = _LatexStyle() if format == "latex" else _TextStyle()
    recurrent = getattr(trace, "recurrent", False)
    equations, header = (_rnn_equations, _rnn_header) if recurrent else (_equations, _header)
    out = []
    for m in models:
        sections = equations(trace, m, st)
        if format == "text":
            out.append(_as_text(header(trace, m), sections))
        elif format == "markdown":
            out.append(_as_markdown(header(trace, m), sections))
        else:
            out.append(_as_latex(header(trace, m), sections))
    return "\n\n".join(out)


# -- backprop through time (an RNNTrace) ------------------------------------------------------------
def _rnn_header(trace, m):
    H = trace.Wh.shape[-1]
    head = (f"Backprop through time: SimpleRNN ({trace.activation.name}, {H} unit{'s' if H > 1 else ''}) "
            f"unrolled over {trace.T} steps, then a dense output; loss {trace.loss.name}")
    return head + (f" — network {trace.M and m}" if trace.M > 1 else "")


def _rnn_equations(trace, m, st):
    """Forward step by step, backward through time, the gradients as sums over steps, the update."""
    one = trace.scalar
    T, fn = trace.T, trace.activation.name
    W = "w" if one else "W"
    wx, wh, wy = st.sub(W, "x"), st.sub(W, "h"), st.sub(W, "y")
    b, by = "b", st.sub("b", "y")
    b_ih, b_hh = ("b_ih", "b_hh") if st.name == "text" else (st.sub("b", "ih"), st.sub("b", "hh"))

    def x(t):
        return st.sub("x", t)

    def h(t):
        return st.sub("h", t)

    def a(t):
        return st.sub("a", t)

    def n(arr):  # a number for inline products (scalar networks only)
        return st.scal(arr[m])

    mul = st.mul
    fwd = []
    for s in trace.steps:
        t = s.t
        if one:
            lin = f"{wx}{st.tight_mul}{x(t)} + {wh}{st.tight_mul}{h(t - 1)}"
            nums = f"{n(trace.Wx)}{mul}{n(s.x)} + {n(trace.Wh)}{mul}{n(s.h_prev)}"
        else:
            lin, nums = f"{x(t)} {wx} + {h(t - 1)} {wh}", None
        if trace.b is not None:
            lin += f" + {b}"
            nums = nums and f"{nums} + {n(trace.b)}"
        note = st.note("b = b_ih + b_hh") if t == 1 and trace.b is not None else None
        fwd.append((a(t), "=", [lin] + ([nums] if nums else []) + [st.value(s.a[m])], note))
        rhs = [st.fn(fn, a(t))] + ([st.fn(fn, n(s.a))] if one else [])
        fwd.append((h(t), "=", rhs + [st.value(s.h[m])], st.note(trace.activation.formula)))
    lin = f"{wy}{st.tight_mul}{h(T)}" if one else f"{h(T)} {wy}"
    nums = f"{n(trace.Wy)}{mul}{n(trace.steps[-1].h)}" if one else None
    if trace.by is not None:
        lin += f" + {by}"
        nums = nums and f"{nums} + {n(trace.by)}"
    fwd.append((st.yhat, "=", [lin] + ([nums] if nums else []) + [st.value(trace.yhat[m])], None))
    forms = _LOSS_FORMS.get(trace.loss.name)
    form = None if forms is None else forms[0 if one else 2]
    rhs = [st.formula(form)] if form else [st.fn(trace.loss.name, f"{st.yhat}, y")]
    fwd.append(("L", "=", rhs + [st.value(trace.loss_value[m])], None))

    dloss = None if forms is None else st.formula(forms[1 if one else 3])
    bwd = [(st.d("L", st.yhat), "=", ([dloss] if dloss else []) + [st.value(trace.dL_dyhat[m])], None)]
    last = trace.steps[-1]
    rhs = [f"{st.d('L', st.yhat)}{mul}{wy}" if one else f"{st.d('L', st.yhat)} {wy}{st.T}"]
    if one:
        rhs.append(f"{n(trace.dL_dyhat)}{mul}{n(trace.Wy)}")
    bwd.append((st.d("L", h(T)), "=", rhs + [st.value(last.dL_dh[m])], st.note("from the output")))
    for s in reversed(trace.steps):
        t = s.t
        prime = st.prime(fn, a(t))
        bwd.append((prime, "=", ([st.prime(fn, n(s.a))] if one else []) + [st.value(s.fprime[m])],
                    st.note(trace.activation.derivative_formula)))
        delta = st.sub(st.delta, t)
        rhs = [f"{st.d('L', a(t))} = {st.d('L', h(t))}{st.had if not one else mul}{prime}"]
        if one:
            rhs.append(f"{n(s.dL_dh)}{mul}{n(s.fprime)}")
        bwd.append((delta, "=", rhs + [st.value(s.delta[m])], None))
        rhs = [f"{delta}{mul}{wh}" if one else f"{delta} {wh}{st.T}"]
        if one:
            rhs.append(f"{n(s.delta)}{mul}{n(trace.Wh)}")
        where = "one step back in time, through " + (wh if st.name == "text" else "the recurrent weight")
        if t == 1:
            where = "reaches the initial state"
        bwd.append((st.d("L", h(t - 1)), "=", rhs + [st.value(s.dL_dh_prev[m])], st.note(where)))
    norms = ", ".join(f"{_fmt(v)}" for v in trace.step_grad_norms[m])
    bwd.append((f"||{st.d('L', 'h_t')}||, t = 1..{T}", "=", [f"[{norms}]"],
                st.note("the layer's step_grad_norms: how the gradient fades (or grows) back in time")))

    grads = []
    for key, sym, term, numf in (
            ("wx", wx, lambda s: (f"{st.sub(st.delta, s.t)}{mul}{x(s.t)}", s.delta, s.x),
             "sum over the steps: the same weight acts at every step"),
            ("wh", wh, lambda s: (f"{st.sub(st.delta, s.t)}{mul}{h(s.t - 1)}", s.delta, s.h_prev), None),
            ("b_ih", b_ih, lambda s: (st.sub(st.delta, s.t), s.delta, None), "b_hh gets the same"),
            ("wy", wy, None, None), ("by", by, None, None)):
        try:
            pt = trace.param(key)
        except GlassnetError:
            continue
        if term is None:  # the output layer: one product, no sum over time
            if key == "wy":
                rhs = [f"{h(T)}{mul}{st.d('L', st.yhat)}" if one else f"{h(T)}{st.T} {st.d('L', st.yhat)}"]
                if one:
                    rhs.append(f"{n(trace.steps[-1].h)}{mul}{n(trace.dL_dyhat)}")
            else:
                rhs = [st.d("L", st.yhat)]
            grads.append((st.d("L", sym), "=", rhs + [st.value(pt.grad[m])], None))
            continue
        parts = [term(s) for s in trace.steps]
        if one:
            nums = [st.num(p[1][m].item()) + ("" if p[2] is None else f"{mul}{st.num(p[2][m].item())}")
                    for p in parts]
            rhs = [" + ".join(p[0] for p in parts), " + ".join(nums)]
        else:
            sym_t = {"wx": f"{x('t')}{st.T} {st.sub(st.delta, 't')}", "wh": f"{h('t-1')}{st.T} {st.sub(st.delta, 't')}",
                     "b_ih": f"{st.sum_batch}{st.sub(st.delta, 't')}"}[key]
            rhs = [f"Σ_t {sym_t}" if st.name == "text" else rf"\sum_t {sym_t}"]
        grads.append((st.d("L", sym), "=", rhs + [st.value(pt.grad[m])], st.note(numf) if numf else None))

    sgd = trace.optimizer == "sgd" and np.allclose(
        np.concatenate([pt.delta[m].ravel() + trace.lr[m] * pt.grad[m].ravel() for pt in trace.params]), 0)
    upd = []
    symbols = {"wx": wx, "wh": wh, "b_ih": b_ih, "b_hh": b_hh, "wy": wy, "by": by}
    for pt in trace.params:
        sym = symbols[pt.kind]
        if sgd:
            rhs = [f"{sym} - lr{st.tight_mul}{st.d('L', sym)}"]
            if one:
                rhs.append(f"{st.scal(pt.value[m])} - {st.num(trace.lr[m])}{mul}{st.scal(pt.grad[m])}")
        else:
            rhs = [f"{sym} + {st.Delta}{sym}"]
        upd.append((sym, st.arrow, rhs + [st.value(pt.new_value[m])], None))
    title = f"Update (SGD, lr = {_fmt(trace.lr[m])})" if sgd else f"Update ({trace.optimizer}, first step)"
    return [("Forward pass, step by step", fwd), ("Backward through time", bwd),
            ("Gradients: sums over the steps", grads), (title, upd)]


def _as_text(head, sections):
    lines = [head]
    for title, eqs in sections:
        lines += ["", title]
        rows = [(f"{lhs} {op} " + " = ".join(rhs), note) for lhs, op, rhs, note in eqs]
        width = max([len(r) for r, n in rows if n] or [0])
        lines += [f"  {r.ljust(width)}   [{n}]" if n else f"  {r}" for r, n in rows]
    return "\n".join(lines)


def _as_markdown(head, sections):
    lines = [f"### {head}"]
    for title, eqs in sections:
        lines += ["", f"**{title}**", ""]
        for lhs, op, rhs, note in eqs:
            eq = f"{lhs} {op} " + " = ".join(rhs)
            lines.append(f"- `{eq}`" + (f" — {note}" if note else ""))
    return "\n".join(lines)


def _as_latex(head, sections):
    lines = [r"\paragraph{" + head.replace("_", r"\_") + "}"]
    for title, eqs in sections:
        lines += [r"\subparagraph{" + title + "}", r"\begin{align*}"]
        body = []
        for lhs, op, rhs, note in eqs:
            eq = f"{lhs} &{op} " + " = ".join(rhs)
            body.append(eq + (rf" && {note}" if note else ""))
        lines.append(" \\\\\n".join(body))
        lines.append(r"\end{align*}")
    return "\n".join(lines)
