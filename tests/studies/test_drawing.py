"""A report's deferred figures: drawn in forked workers, the same files as one after another,
written atomically, and a failing figure is an error in the caller, not a lost one."""

import pytest

from glassnet.studies import drawing
from glassnet.studies.report import Report, save_figure


def _line(k):
    def draw(fig):
        ax = fig.add_subplot()
        ax.plot([0, 1, 2], [0, k, 2 * k])
        ax.set_xlabel("step")
        ax.set_ylabel(f"value x{k}")
    return draw


def _report(folder, n=3):
    report = Report("t", folder)
    report.defer_figures()
    for k in range(n):
        report.figure(f"f{k}.png", _line(k + 1), f"figure {k}")
    return report


def test_deferred_figures_are_drawn_only_when_asked_and_equal_across_worker_counts(tmp_path):
    one, two = _report(tmp_path / "one"), _report(tmp_path / "two")
    assert not any((tmp_path / "one").glob("*.png"))       # noted, not drawn yet
    one.draw_figures(workers=1)
    two.draw_figures(workers=2)
    for a, b in zip(one.figures, two.figures):
        assert a.read_bytes() == b.read_bytes() and a.stat().st_size > 1000
    assert [p.name for p in two.figures] == ["f0.png", "f1.png", "f2.png"]
    assert not list((tmp_path / "two").glob(".*"))         # no temporary file left behind


def test_a_figure_that_fails_raises_in_the_caller(tmp_path):
    report = _report(tmp_path)

    def broken(fig):
        raise ValueError("bad figure data")

    report.figure("broken.png", broken, "broken")
    with pytest.raises(ValueError, match="bad figure data"):
        report.draw_figures(workers=2)
    assert not (tmp_path / "broken.png").exists() and not list(tmp_path.glob(".*"))


def test_save_figure_replaces_a_file_whole(tmp_path):
    path = tmp_path / "f.png"
    path.write_bytes(b"old")
    save_figure(path, _line(1))
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_worker_count_follows_the_cores_and_the_override(monkeypatch):
    monkeypatch.setenv("GLASSNET_FIGURE_WORKERS", "1")
    assert drawing.workers_for(8) == 1
    monkeypatch.setenv("GLASSNET_FIGURE_WORKERS", "3")
    assert drawing.workers_for(2) == 2
    monkeypatch.delenv("GLASSNET_FIGURE_WORKERS")
    assert 1 <= drawing.workers_for(8) <= 4 and drawing.workers_for(1) == 1
