"""``glassnet explain``: smoke tests through click, and one-line errors."""

import pytest
from click.testing import CliRunner

from glassnet.cli import cli, main

SEED_001 = "x=1, y=5, w1=3, relu, w2=2, loss=half_se, lr=0.1"


def run(*args):
    result = CliRunner().invoke(cli, ["explain", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_backprop_formats():
    text = run("backprop", SEED_001)
    assert "= 2.8" in text and "= 1.7" in text and "dL/dw1" in text
    assert r"\frac{\partial L}{\partial w_{1}}" in run("backprop", SEED_001, "--format", "latex")
    assert "**Chain rule**" in run("backprop", SEED_001, "--format", "markdown")
    assert "max relative error" in run("backprop", SEED_001, "--check")


def test_backprop_config_file(tmp_path):
    cfg = tmp_path / "net.toml"
    cfg.write_text('x = 1\ny = 5\nloss = "half_se"\nlr = 0.1\n\n[[layer]]\nw = 3\nactivation = "relu"\n\n'
                   '[[layer]]\nw = 2\n')
    assert run("backprop", "--config", str(cfg)) == run("backprop", SEED_001)


def test_softmax_params_activation(tmp_path):
    out = run("softmax", "7", "1", "2.2", "--label", "0")
    assert "98.94%" in out and "0.25%" in out and "0.81%" in out and "0.0106" in out
    assert "-1.5" in run("softmax", "-1.5", "2")
    assert "2,468" in run("params", "6", "32", "32", "32", "4")
    assert "1,792" in run("params", "--conv", "3", "64", "--kernel", "3")  # 3*3*3*64 + 64
    assert "3·5·1·2 + 2" in run("params", "--conv", "1", "2", "--kernel", "3x5")
    plot = tmp_path / "relu.png"
    out = run("activation", "relu", "--plot", str(plot))
    assert "max(0, z)" in out and plot.exists()


@pytest.mark.parametrize("args, needle", [
    (["backprop", "x=1, y=5, w1=3, relux, w2=2"], "'relux'"),
    (["backprop", "x=1, y=5, w1=abc"], "'w1=abc'"),
    (["backprop"], "SPEC"),
    (["softmax", "1", "two"], "two"),
    (["params", "6", "x"], "SIZES"),
    (["params", "--conv", "3", "8", "--kernel", "3y3"], "--kernel"),
    (["activation", "nope"], "nope"),
])
def test_errors_are_one_line(args, needle, capsys):
    assert main(["explain", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and needle in err and "\n" not in err


def test_missing_config_file(tmp_path, capsys):
    assert main(["explain", "backprop", "--config", str(tmp_path / "none.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
