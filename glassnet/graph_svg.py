"""A model's graph drawn as an inline SVG: boxes for inputs and layers, arrows for tensors.

Used by a model's notebook display (:func:`glassnet.notebook.summary_html`); no dependency
beyond the standard library. The drawing is a layered (Sugiyama-style, single pass) layout:

1. **graph**: one node per model input and per layer call; one edge per tensor a layer reads
   (an :class:`~glassnet.Add` of two tensors has two edges in). ``Sequential`` is a chain with
   one input;
2. **ranks**: a node's rank is the length of the longest path from an input to it, so every
   edge points down (each row holds layers that can run once the rows above have);
3. **order**: within a row, nodes sit in the order of the mean position of the nodes they read
   (a barycentre sweep, which keeps branches apart);
4. **edges**: an edge to the next row is a straight arrow; one that skips rows (a skip
   connection) leaves the source's right side, runs down a lane right of every box in the rows
   it passes and comes back into the reader's right side, so it never crosses a box.

>>> import glassnet as gn
>>> x = gn.Input((4,))
>>> h = gn.Dense(4, activation="relu")(x)
>>> svg = graph_svg(gn.Model(x, gn.Add()([x, gn.Dense(4)(h)])))
>>> svg.count('class="gn-node"'), svg.count('class="gn-edge"')
(4, 4)
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["GraphNode", "graph_nodes", "graph_svg", "layout", "skip_lanes"]

#: drawing constants, in SVG pixels
FONT = 12                   # monospace font size
CHAR = 0.6 * FONT           # width of one monospace character
BOX_H = 44
ROW_GAP = 34
COL_GAP = 26
PAD = 12
SKIP_GAP = 20               # how far right of the boxes the first lane of a skip connection runs
LANE = 10                   # spacing of the lanes of skip connections that overlap
MAX_TEXT = 44               # characters in a box line before it is cut with "…"

_FILL = {"input": "#eceff1", "merge": "#fff3e0", "layer": "#e3f2fd"}


@dataclass
class GraphNode:
    """One box of the drawing: an input or a layer call, with what it reads (by index)."""

    name: str
    kind: str                           # "input", "merge" or "layer"
    label: str                          # the layer's repr, or "Input"
    shape: tuple | None                 # per-sample output shape; None if not built yet
    params: int = 0
    reads: list[int] = field(default_factory=list)
    output: bool = False
    rank: int = 0
    x: float = 0.0
    y: float = 0.0


def graph_nodes(model) -> list[GraphNode]:
    """The nodes of ``model``'s graph in topological order (inputs first); ``reads`` holds the
    indices of the nodes whose output each node takes in, one entry per edge."""
    nodes: list[GraphNode] = []
    if hasattr(model, "nodes"):                                     # a graph Model
        index: dict[int, int] = {}
        for t in model.inputs:
            index[id(t)] = len(nodes)
            nodes.append(GraphNode(t.name or "input", "input", "Input", tuple(t.shape)))
        for node in model.nodes:
            layer = node.layer
            index[id(node.output)] = len(nodes)
            nodes.append(GraphNode(layer.name or type(layer).__name__,
                                   "merge" if getattr(layer, "merges", False) else "layer", repr(layer),
                                   _shape(layer), _params(layer), [index[id(t)] for t in node.inputs]))
        for t in model.outputs:
            nodes[index[id(t)]].output = True
    else:                                                           # Sequential: a chain
        shape = getattr(model, "input_shape", None)
        nodes.append(GraphNode("input", "input", "Input", None if shape is None else tuple(shape)))
        counts: dict[str, int] = {}
        for layer in model.layers:      # not built yet: the names build() will give (kind_k)
            kind = getattr(layer, "kind", type(layer).__name__.lower())
            counts[kind] = counts.get(kind, -1) + 1
            nodes.append(GraphNode(layer.name or f"{kind}_{counts[kind]}", "layer", repr(layer),
                                   _shape(layer), _params(layer), [len(nodes) - 1]))
        nodes[-1].output = True
    return nodes


def _shape(layer):
    shape = getattr(layer, "output_shape", None)
    return None if shape is None else tuple(shape)


def _params(layer) -> int:
    try:
        return int(layer.param_count())
    except Exception:  # noqa: BLE001 - a layer not built yet has no parameters to count
        return 0


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _lines(n: GraphNode) -> tuple[str, str]:
    shape = "(None, ?)" if n.shape is None else "(None" + "".join(f", {d}" for d in n.shape) + ")"
    first = n.name if n.kind == "input" else f"{n.name}: {n.label}"
    second = shape + (f" · {n.params:,} params" if n.params else "")
    return _cut(first), _cut(second)


def layout(nodes: list[GraphNode]) -> tuple[float, float, float]:
    """Give every node its rank and position (``x``, ``y`` of the box's top-left corner);
    returns the box width and the drawing's width and height."""
    for n in nodes:                                     # topological order: readers come later
        n.rank = 1 + max((nodes[r].rank for r in n.reads), default=-1)
    rows: dict[int, list[int]] = {}
    for i, n in enumerate(nodes):
        rows.setdefault(n.rank, []).append(i)
    width = max(max(len(t) for t in _lines(n)) for n in nodes) * CHAR + 2 * PAD
    slot: dict[int, float] = {}
    for rank in sorted(rows):                           # barycentre sweep, top to bottom
        row = rows[rank]
        key = {i: (sum(slot[r] for r in nodes[i].reads) / len(nodes[i].reads) if nodes[i].reads else pos, pos)
               for pos, i in enumerate(row)}
        row.sort(key=key.__getitem__)
        for pos, i in enumerate(row):
            slot[i] = pos - (len(row) - 1) / 2          # centred on 0
    widest = max(len(r) for r in rows.values())
    left = PAD + (widest - 1) / 2 * (width + COL_GAP)
    for i, n in enumerate(nodes):
        n.x = left + slot[i] * (width + COL_GAP)
        n.y = PAD + n.rank * (BOX_H + ROW_GAP)
    total_w = 2 * PAD + widest * width + (widest - 1) * COL_GAP
    total_h = 2 * PAD + (max(rows) + 1) * BOX_H + max(rows) * ROW_GAP
    return width, total_w, total_h


def skip_lanes(nodes: list[GraphNode], width: float) -> dict[tuple[int, int], float]:
    """The x of the vertical lane of each edge that skips rows, keyed ``(source index,
    id(reader))``: right of every box in the rows it passes, each lane ``LANE`` apart from the
    lanes of earlier skips it overlaps, so skips neither cross boxes nor run on top of each other."""
    lanes: dict[tuple[int, int], float] = {}
    taken: list[tuple[int, int, float]] = []            # (first rank, last rank, x) of each lane
    for n in nodes:
        for r in n.reads:
            lo, hi = nodes[r].rank, n.rank
            if hi - lo <= 1:
                continue
            x = max(m.x + width for m in nodes if lo <= m.rank <= hi) + SKIP_GAP
            while any(a <= hi and lo <= b and abs(x - t) < LANE for a, b, t in taken):
                x += LANE
            taken.append((lo, hi, x))
            lanes[(r, id(n))] = x
    return lanes


def graph_svg(model, title: str | None = None) -> str:
    """``model``'s graph as an SVG element (a string to inline in HTML).

    Each box is a ``<g class="gn-node" data-name=...>`` (an input or a layer: its name, type,
    output shape and parameter count; outputs have a thicker border), each tensor read by a
    layer one ``<path class="gn-edge" data-from=... data-to=...>`` ending in an arrowhead.
    """
    nodes = graph_nodes(model)
    width, total_w, total_h = layout(nodes)
    lanes = skip_lanes(nodes, width)
    total_w = max([total_w] + [x + PAD for x in lanes.values()])
    esc = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="gn-graph" width="{total_w:.0f}" '
           f'height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
           f'font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" font-size="{FONT}">',
           f"<title>{esc(title or 'graph of model ' + str(getattr(model, 'name', '')))}</title>",
           '<defs><marker id="gn-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#546e7a"/>'
           "</marker></defs>"]
    for n in nodes:
        for r in n.reads:
            s = nodes[r]
            if n.rank - s.rank == 1:                    # to the next row: straight down
                x1, y1, x2, y2 = s.x + width / 2, s.y + BOX_H, n.x + width / 2, n.y
                d = f"M {x1:.1f} {y1:.1f} L {x2:.1f} {y2:.1f}"
            else:                                       # a skip: right, down its lane, back left
                x1, y1, x2, y2 = s.x + width, s.y + BOX_H / 2, n.x + width, n.y + BOX_H / 2
                lane, c = lanes[(r, id(n))], 8.0
                d = (f"M {x1:.1f} {y1:.1f} H {lane - c:.1f} Q {lane:.1f} {y1:.1f} {lane:.1f} {y1 + c:.1f} "
                     f"V {y2 - c:.1f} Q {lane:.1f} {y2:.1f} {lane - c:.1f} {y2:.1f} H {x2:.1f}")
            out.append(f'<path class="gn-edge" data-from="{esc(s.name)}" data-to="{esc(n.name)}" d="{d}" '
                       'fill="none" stroke="#546e7a" stroke-width="1.3" marker-end="url(#gn-arrow)"/>')
    for n in nodes:
        first, second = _lines(n)
        border = 2.5 if n.output else 1.0
        out.append(f'<g class="gn-node" data-name="{esc(n.name)}" data-kind="{n.kind}"'
                   + (' data-output="true"' if n.output else "") + ">"
                   f"<title>{esc(n.name)}: {esc(n.label)}</title>"
                   f'<rect x="{n.x:.1f}" y="{n.y:.1f}" width="{width:.1f}" height="{BOX_H}" rx="6" '
                   f'fill="{_FILL[n.kind]}" stroke="#37474f" stroke-width="{border}"/>'
                   f'<text x="{n.x + PAD:.1f}" y="{n.y + 18:.1f}" font-weight="bold" fill="#263238">{esc(first)}</text>'
                   f'<text x="{n.x + PAD:.1f}" y="{n.y + 35:.1f}" fill="#455a64">{esc(second)}</text></g>')
    out.append("</svg>")
    return "".join(out)
