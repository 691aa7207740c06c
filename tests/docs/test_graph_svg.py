"""A model's notebook display draws its graph: one box per input and layer, one arrow per tensor
a layer reads, skip connections routed around the boxes they skip."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

import glassnet as gn
from glassnet.graph_svg import BOX_H, graph_svg

SVG = "{http://www.w3.org/2000/svg}"


def _residual(blocks: int = 2):
    x = gn.Input((16,), name="x")
    h = x
    for _ in range(blocks):
        h = gn.Add()([h, gn.Dense(16)(gn.Dense(16, activation="relu")(h))])
    return gn.Model(x, gn.Dense(2, activation="softmax")(h), seed=[0, 1])


def _two_inputs_two_outputs():
    a, b = gn.Input((4,), name="a"), gn.Input((3,), name="b")
    c = gn.Concatenate()([gn.Dense(5)(a), gn.Dense(5)(b)])
    g = gn.Multiply()([gn.Dense(10, activation="sigmoid")(c), c])
    return gn.Model([a, b], [gn.Dense(1)(g), gn.Dense(2)(c)], seed=0)


def _svg_of_html(html: str) -> ET.Element:
    found = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(found) == 1, "the display holds one drawing"
    return ET.fromstring(found[0])


def _drawn(svg: ET.Element):
    nodes = {g.get("data-name"): g for g in svg.iter(f"{SVG}g") if g.get("class") == "gn-node"}
    edges = [(p.get("data-from"), p.get("data-to"), p.get("d")) for p in svg.iter(f"{SVG}path")
             if p.get("class") == "gn-edge"]
    return nodes, edges


def _graph_edges(model) -> list[tuple[str, str]]:
    """(producer, reader) for every tensor every layer call reads, from the model's own graph."""
    return [(t.name, node.layer.name) for node in model.nodes for t in node.inputs]


@pytest.mark.parametrize("make", [_residual, lambda: _residual(4), _two_inputs_two_outputs],
                         ids=["residual", "residual4", "two_in_two_out"])
def test_graph_model_html_draws_one_box_per_layer_and_one_arrow_per_tensor_read(make):
    model = make()
    nodes, edges = _drawn(_svg_of_html(model._repr_html_()))
    assert sorted(nodes) == sorted([t.name for t in model.inputs] + [l.name for l in model.layers])
    expected = _graph_edges(model)
    assert sorted((a, b) for a, b, _ in edges) == sorted(expected)
    assert len(edges) == sum(len(n.inputs) for n in model.nodes)
    # each box names its layer's output shape; outputs are marked
    for node in model.nodes:
        text = "".join(nodes[node.layer.name].itertext())
        assert "(None, " + ", ".join(map(str, node.output.shape)) + ")" in text
    assert {n for n, g in nodes.items() if g.get("data-output")} == {t.name for t in model.outputs}
    assert {nodes[t.name].get("data-kind") for t in model.inputs} == {"input"}


def test_residual_drawing_is_layered_and_skips_go_around_the_boxes():
    model = _residual(blocks=3)
    svg = _svg_of_html(model._repr_html_())
    nodes, edges = _drawn(svg)
    rect = {n: g.find(f"{SVG}rect") for n, g in nodes.items()}
    box = {n: (float(r.get("x")), float(r.get("y")), float(r.get("width"))) for n, r in rect.items()}
    for a, b, _ in edges:                                   # every arrow points down a row or more
        assert box[b][1] > box[a][1]
    skips = [(a, b, d) for a, b, d in edges if "V" in d]
    assert len(skips) == 3                                  # x -> add_0, add_0 -> add_1, add_1 -> add_2
    for a, b, d in skips:
        lane = float(re.findall(r"Q ([\d.]+)", d)[0])    # the x of its vertical run
        top, bottom = box[a][1], box[b][1] + BOX_H
        passed = [n for n, (x, y, w) in box.items() if top <= y <= bottom]
        assert all(lane > box[n][0] + box[n][2] for n in passed), "a skip crosses a box"
        assert lane < float(svg.get("width")), "a skip runs outside the drawing"


def test_sequential_is_drawn_as_a_chain():
    model = gn.Sequential([gn.Dense(8, activation="relu"), gn.Dense(8, activation="relu"), gn.Dense(2)],
                          input_shape=(4,))
    nodes, edges = _drawn(_svg_of_html(model._repr_html_()))
    names = ["input"] + [l.name for l in model.layers]
    assert sorted(nodes) == sorted(names)
    assert [(a, b) for a, b, _ in edges] == list(zip(names, names[1:]))
    assert "(None, 4)" in "".join(nodes["input"].itertext())
    lazy = gn.Sequential([gn.Dense(3), gn.Dense(1)])        # not built: shapes unknown, still a chain
    nodes, edges = _drawn(_svg_of_html(lazy._repr_html_()))
    assert len(nodes) == 3 and len(edges) == 2


def test_names_are_escaped():
    x = gn.Input((2,), name="<x&y>")
    svg = graph_svg(gn.Model(x, gn.Dense(1, name="out\"1")(x)))
    nodes, edges = _drawn(ET.fromstring(svg))
    assert set(nodes) == {"<x&y>", 'out"1'} and edges[0][:2] == ("<x&y>", 'out"1')
