"""``glassnet study``: --list, unknown names, bad options, and one quick run through the CLI."""

from __future__ import annotations

from glassnet.cli import main
from glassnet.studies import all_studies, studies

#: the studies issue 5 asks for, one per seed topic, and those added since (issues 13 and 16)
EXPECTED = {"autoencoder-838", "initialization", "activations", "momentum", "sparsity", "dropout-cost",
            "playground-exercises", "image-classifier", "dead-relu", "loss-landscape", "vanishing-gradients",
            "sequence-memory"}


def test_list_shows_every_study_once_with_a_summary(capsys):
    assert main(["study", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [line.split()[0] for line in lines]
    assert set(names) == EXPECTED
    assert len(names) == len(studies) == len(EXPECTED)
    for line, st in zip(lines, all_studies()):
        assert line.startswith(st.name)
        assert line[len(st.name):].strip() == st.summary and st.summary


def test_unknown_study_is_a_one_line_error_listing_valid_names(capsys):
    assert main(["study", "no-such-study"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "no-such-study" in err
    for name in EXPECTED:
        assert name in err


def test_missing_name_and_bad_seeds_are_one_line_errors(capsys):
    assert main(["study"]) == 2
    assert "--list" in capsys.readouterr().err
    assert main(["study", "dead-relu", "--quick", "--seeds", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "seeds" in err and "0" in err and "\n" not in err


def test_names_resolve_case_and_dash_insensitively(tmp_path, capsys):
    assert main(["study", "Dead_ReLU", "--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").exists()


def test_cli_quick_run_prints_summary_and_writes_report(tmp_path, capsys):
    out = tmp_path / "dr"
    assert main(["study", "dead-relu", "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    report = (out / "report.md").read_text()
    assert "key findings:" in text and str(out / "report.md") in text
    # the printed findings are the report's findings
    printed = [line[2:] for line in text.splitlines() if line.startswith("- ")]
    assert printed and all(f in report for f in printed)
    assert sorted(p.name for p in out.glob("*.png")) == ["loss_vs_w1.png", "training.png"]
