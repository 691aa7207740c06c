"""The settings table (one source for server and page), its validation, the CLI entry, and that
`import glassnet` does not pull in the web stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from glassnet.errors import GlassnetError
from glassnet.playground import settings as st


@pytest.mark.parametrize("row", st.table(), ids=[r["key"] for r in st.SETTINGS])
def test_every_default_is_valid_and_a_wrong_type_is_refused(row):
    assert st.validate(row["key"], row["default"]) == row["default"]
    wrong = "nonsense" if row["type"] != "enum" or not isinstance(row["choices"][0], str) else 12345
    with pytest.raises(GlassnetError, match=f"setting '{row['key']}'"):
        st.validate(row["key"], wrong)


@pytest.mark.parametrize("key, value, ok", [
    ("learningRate", 0.03, 0.03), ("learningRate", 10, 10), ("learningRate", 1e-05, 1e-05),
    ("noise", 50, 50), ("noise", 50.0, 50), ("networkShape", [], []), ("networkShape", [32] * 10, [32] * 10),
    ("stopLoss", 0.05, 0.05), ("layerActivations", ["", "relu"], ["", "relu"]),
])
def test_valid_values_are_canonical(key, value, ok):
    assert st.validate(key, value) == ok


@pytest.mark.parametrize("key, value", [
    ("learningRate", 0.02), ("noise", 51), ("noise", 2.5), ("percTrainData", 95), ("batchSize", True),
    ("networkShape", [0]), ("networkShape", [33]), ("networkShape", [1] * 11), ("networkShape", "4,2"),
    ("layerActivations", ["softmax"]), ("x", 1), ("stopLoss", float("nan")), ("problem", "ranking"),
])
def test_values_outside_the_table_are_refused(key, value):
    with pytest.raises(GlassnetError, match="not allowed|must be a list"):
        st.validate(key, value)


def test_activation_choices_resolve_in_the_engine_registry():
    from glassnet.activations import activations
    for name in st.choices("activation"):
        assert name in activations


def test_js_module_carries_the_same_table():
    text = st.as_js_module()
    table = json.loads(text.split("export const SETTINGS = ", 1)[1].split(";\nexport const LIMITS", 1)[0])
    assert table == json.loads(json.dumps(st.table()))
    limits = json.loads(text.split("export const LIMITS = ", 1)[1].split(";\nexport const LESSONS", 1)[0])
    assert limits["maxHiddenLayers"] == st.MAX_HIDDEN_LAYERS and limits["maxNeurons"] == st.MAX_NEURONS
    lessons = json.loads(text.split("export const LESSONS = ", 1)[1].rstrip().rstrip(";"))
    assert [lesson["id"] for lesson in lessons] == st.choices("lesson")[1:]


def test_import_glassnet_does_not_load_the_web_stack():
    code = ("import sys, glassnet, glassnet.playground, glassnet.playground.controller; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'websockets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_cli_lists_the_playground_command():
    from click.testing import CliRunner

    from glassnet.cli import cli
    result = CliRunner().invoke(cli, ["playground", "--help"])
    assert result.exit_code == 0
    assert "--no-browser" in result.output and "--port" in result.output
