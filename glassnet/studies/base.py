"""What a study is, and how one runs: measure, then analyze into a report.

A study reproduces one seed experiment in three steps, kept apart on purpose:

1. ``settings(quick, seeds)``: every knob of the run as a flat dict (shown in the report);
2. ``measure(settings, recorder)``: trains the networks and returns the raw measurements (curves,
   final numbers, weights, timings) as a dict of NumPy arrays and numbers. Its arrays come from
   :class:`~glassnet.studies.runconfig.DataRecipe` tables, and each fit that is an experiment
   gets ``recorder.callback(data=recipe)`` (see :mod:`glassnet.studies.recording`), so every
   network it trains is stored with a run config that ``glassnet train`` re-runs;
3. ``analyze(data, settings, report)``: a pure function of the measurements that fills the
   :class:`~glassnet.studies.report.Report` (findings, tables, figures). It never trains.

Because ``analyze`` only reads ``data``, giving it different numbers gives different sentences;
the tests rely on that to show the findings are computed, not written in advance.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GlassnetError
from ..registry import Registry
from .recording import Recorder
from .report import Report, fmt, markdown_table

studies: Registry["Study"] = Registry("study")

DEFAULT_ROOT = Path("glassnet-runs") / "studies"


class Study:
    """Base class; a study module subclasses it and registers one instance with
    :func:`register_study`."""

    name = "study"
    seed_file = ""          #: the seed document reproduced, e.g. "003_52fd57ac508f6957.txt"
    title = ""
    summary = ""            #: one line for ``glassnet study --list``
    full_seeds = 5
    quick_seeds = 3
    #: BLAS threads while measuring: these networks are small, and on a busy machine extra BLAS
    #: threads only fight each other (a 3x64x256 @ 256x256 matmul ran 5x slower with them)
    blas_threads = 1

    def settings(self, quick: bool, seeds: int) -> dict:
        raise NotImplementedError

    def measure(self, settings: dict, recorder: Recorder) -> dict:
        raise NotImplementedError

    def analyze(self, data: dict, settings: dict, report: Report) -> None:
        raise NotImplementedError

    # -- running ------------------------------------------------------------------------------
    def run(self, quick: bool = False, out=None, seeds: int | None = None, write: bool = True,
            store=None, command: str = "") -> "StudyResult":
        """Measure, analyze and (with ``write``) save ``report.md`` and the figures in ``out``.

        With ``store`` (a run-store path or :class:`~glassnet.experiments.store.RunStore`), every
        network trained while measuring is recorded there as one sweep (see
        :mod:`glassnet.studies.recording`); its id is ``result.extra["sweep_id"]``. The recorder
        is passed to ``measure`` explicitly (without a store it is disabled); it only reads what
        training produced, so the measurements are the same either way.
        """
        seeds = (self.quick_seeds if quick else self.full_seeds) if seeds is None else _check_seeds(seeds)
        out = Path(out) if out is not None else DEFAULT_ROOT / self.name
        settings = self.settings(quick, seeds)
        t0 = time.perf_counter()
        recorder = Recorder(self.name, settings, enabled=store is not None, blas_threads=self.blas_threads)
        with blas_threads(self.blas_threads):
            data = self.measure(settings, recorder)
        seconds = time.perf_counter() - t0
        sweep_id = None
        if store is not None:
            cmd = command or f"glassnet study {self.name}" + (" --quick" if quick else "")
            sweep_id = recorder.write(store, quick, cmd)
        report = self.make_report(data, settings, out if write else None, quick, seconds, sweep_id=sweep_id)
        result = StudyResult(self.name, quick, seeds, settings, data, report, out if write else None, seconds)
        if sweep_id is not None:
            result.extra.update(sweep_id=sweep_id, runs=len(recorder.runs))
        if write:
            out.mkdir(parents=True, exist_ok=True)
            (out / "report.md").write_text(report.render(), encoding="utf-8")
        return result

    def analyzed(self, data: dict, settings: dict, out=None) -> Report:
        """The findings, tables and figures of ``data`` alone (no intro, no settings table): a
        fresh report that ``analyze`` filled. Re-reads stored or altered measurements."""
        report = Report(f"Study `{self.name}`", None if out is None else Path(out))
        self.analyze(data, settings, report)
        return report

    def make_report(self, data: dict, settings: dict, out, quick: bool, seconds: float,
                    sweep_id: str | None = None) -> Report:
        """Build the report from measurements (no training): intro, ``analyze``, settings."""
        report = Report(f"Study `{self.name}`: {self.title}", out)
        report.defer_figures()  # drawn together at the end, in parallel (glassnet.studies.drawing)
        mode = "quick (reduced, for CI)" if quick else "full"
        cmd = f"glassnet study {self.name}" + (" --quick" if quick else "")
        if settings.get("seeds") != (self.quick_seeds if quick else self.full_seeds):
            cmd += f" --seeds {settings.get('seeds')}"
        report.intro.append(
            f"Reproduces seed `{self.seed_file}`. Mode: {mode}; {fmt(settings.get('seeds', 0))} seed(s) "
            f"per configuration; measuring took {seconds:.1f} s. Reproduce with `{cmd}`. Every finding "
            "below is generated from the numbers measured in this run.")
        if sweep_id is not None:
            report.intro.append(
                f"Every network trained here is recorded in the run store as sweep `{sweep_id}` "
                f"(`glassnet runs show {sweep_id}`).")
        self.analyze(data, settings, report)
        report.section("Settings")
        report.text(markdown_table(["setting", "value"], [[k, _show(v)] for k, v in settings.items()]))
        report.draw_figures()
        return report


def blas_threads(n: int | None):
    """Limit BLAS threads (via threadpoolctl, when installed) inside a ``with`` block."""
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - optional
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def _show(v) -> str:
    """A settings-table cell that keeps every digit a number needs (0.999999 stays 0.999999,
    where prose rounds to 3 significant figures)."""
    if isinstance(v, (list, tuple)):
        return ", ".join(_show(i) for i in v)
    if isinstance(v, float) and math.isfinite(v):
        short = fmt(v)
        return short if float(short.replace(",", "")) == v else f"{v:.12g}"
    return v if isinstance(v, str) else fmt(v)


def _check_seeds(seeds) -> int:
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise GlassnetError(f"seeds must be a positive integer (networks per configuration), got {seeds!r}")
    return seeds


@dataclass
class StudyResult:
    """What one run of a study produced."""

    name: str
    quick: bool
    seeds: int
    settings: dict
    data: dict
    report: Report
    out: Path | None
    seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def findings(self) -> list[str]:
        return self.report.findings

    @property
    def numbers(self) -> dict[str, float]:
        return self.report.numbers

    @property
    def report_path(self) -> Path | None:
        return None if self.out is None else self.out / "report.md"

    @property
    def figures(self) -> list[Path]:
        return self.report.figures

    def tables(self, as_frame: bool | None = None) -> dict:
        """The measurements as tidy tables by name: pandas DataFrames when pandas is installed,
        else dicts of column arrays (see :func:`glassnet.notebook.study_tables`)."""
        from ..notebook import study_tables  # noqa: PLC0415 - notebook helpers load on use

        return study_tables(self, as_frame)

    def table(self, name: str, as_frame: bool | None = None):
        """One of :meth:`tables`; an unknown name lists the valid ones."""
        from ..notebook import study_table  # noqa: PLC0415

        return study_table(self, name, as_frame)

    def _repr_html_(self) -> str:
        """Jupyter: findings and figures inline (see :func:`glassnet.notebook.study_html`)."""
        from ..notebook import study_html  # noqa: PLC0415 - notebook helpers load on use

        return study_html(self)


def register_study(cls: type[Study]) -> type[Study]:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    studies.register(cls.name)(cls())
    return cls


def get_study(name: str) -> Study:
    """The study called ``name``; the error lists the valid names as users type them."""
    if name not in studies:
        valid = ", ".join(studies.get(n).name for n in studies.names())
        raise GlassnetError(f"unknown study {name!r}; valid names: {valid}")
    return studies.get(name)


def all_studies() -> list[Study]:
    return [studies.get(n) for n in studies.names()]


def run_study(name: str, quick: bool = False, out=None, seeds: int | None = None,
              write: bool = True, store=None) -> StudyResult:
    """Run the study ``name`` (see :meth:`Study.run`; ``store`` records its runs)."""
    return get_study(name).run(quick=quick, out=out, seeds=seeds, write=write, store=store)
