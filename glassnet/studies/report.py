"""Markdown reports whose sentences are built from measured numbers.

A study's ``analyze`` step fills a :class:`Report`: sections, tables, figures and *findings*.
Nothing in a report is pre-written about the outcome: every finding is a sentence assembled from
numbers the run measured, and the wording (``faster``/``slower``, ``did``/``did not``) is chosen
by comparing those numbers (see :func:`ratio_phrase`, :func:`compare_phrase`, :func:`choose`).

The same report also records the numbers it quotes (:meth:`Report.number`), so tests can check
that the text and the measurements agree.

Figures are drawn only when the report has a folder (``out``); ``analyze`` can therefore run on
modified data in tests without touching matplotlib.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Callable, Sequence

import numpy as np


# -- number formatting ------------------------------------------------------------------------

def fmt(x, digits: int = 3) -> str:
    """A number for prose and tables: ints with thousands separators, floats to ``digits``
    significant figures (scientific below 1e-3), ``None``/NaN as an em dash."""
    if x is None:
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    x = float(x)
    if not math.isfinite(x):
        return "—" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    if x == round(x) and abs(x) >= 1000:
        return f"{int(round(x)):,}"
    if abs(x) < 1e-3 or abs(x) >= 1e6:
        return f"{x:.{max(digits - 1, 0)}e}"
    return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:,.0f}"


def pct(x, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage: ``pct(0.257) == "25.7%"``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{100 * float(x):.{digits}f}%"


def step_text(step, horizon: int | None = None) -> str:
    """A step number, or "not within N steps" when it never happened (``None``)."""
    if step is None:
        return "not within " + (f"{horizon:,} steps" if horizon else "the run")
    return f"step {int(step):,}"


# -- comparison wording -----------------------------------------------------------------------

def choose(condition: bool, if_true: str, if_false: str) -> str:
    """Pick the wording that the measured comparison supports."""
    return if_true if condition else if_false


def ratio_phrase(a: float, b: float, more: str, less: str, same: str = "as", tol: float = 0.05) -> str:
    """How ``a`` compares with ``b`` as a factor: ``"3.1x later"`` (a > b), ``"2.0x earlier"``
    (a < b, factor b/a), or ``"about the same time as"``-style ``same`` within ``tol``.

    ``more``/``less`` are the words for a larger/smaller ``a`` ("later"/"earlier",
    "slower"/"faster", "higher"/"lower").
    """
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return "not comparable with"
    if b == 0 and a == 0:
        return same
    if b == 0 or a == 0:
        return more if a > b else less
    r = a / b
    if abs(r - 1) <= tol:
        return same
    return f"{factor(r)} {more}" if r > 1 else f"{factor(1 / r)} {less}"


def factor(r: float) -> str:
    """A ratio >= 1 as ``"3.1x"``, ``"12x"``, ``"1,400x"``."""
    return f"{r:.2g}x" if r < 10 else f"{r:,.0f}x"


def compare_phrase(a: float, b: float, higher: str, lower: str, same: str, rel_tol: float = 0.05,
                   abs_tol: float = 0.0) -> str:
    """``higher`` if a > b, ``lower`` if a < b, ``same`` when they differ by at most
    ``max(rel_tol * max(|a|, |b|), abs_tol)``."""
    if abs(a - b) <= max(rel_tol * max(abs(a), abs(b)), abs_tol):
        return same
    return higher if a > b else lower


def names_list(items: Sequence[str], conj: str = "and") -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``; empty -> ``"none"``."""
    items = [str(i) for i in items]
    if not items:
        return "none"
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {conj} {items[-1]}"


def count_of(n: int, total: int, noun: str) -> str:
    """``"3 of 5 seeds"``, ``"all 5 seeds"``, ``"none of the 5 seeds"``."""
    if n == total:
        return f"all {total} {noun}" if total > 1 else f"the {noun}"
    if n == 0:
        return f"none of the {total} {noun}"
    return f"{n} of {total} {noun}"


# -- the report -------------------------------------------------------------------------------

class Report:
    """A Markdown report assembled block by block.

    Parameters
    ----------
    title : str
        The H1 title.
    out : Path or None
        Folder for figures; ``None`` skips drawing (figure blocks then only record the caption).
    """

    def __init__(self, title: str, out: Path | None = None):
        self.title = title
        self.out = None if out is None else Path(out)
        self.intro: list[str] = []
        self.findings: list[str] = []
        self.numbers: dict[str, float] = {}
        #: key -> whether the claim's premise held (see :meth:`claim`)
        self.claims: dict[str, bool] = {}
        self.summary: tuple[list[str], list[list]] | None = None
        self.blocks: list[str] = []
        self.figures: list[Path] = []
        #: figures to draw at :meth:`draw_figures` (None: each is drawn when added)
        self._pending: list | None = None

    # recorded values -------------------------------------------------------------------------
    def number(self, key: str, value):
        """Record a measured value quoted in the report (tests compare text and numbers)."""
        self.numbers[key] = None if value is None else float(value)
        return value

    # text blocks -----------------------------------------------------------------------------
    def finding(self, text: str) -> None:
        """A key finding: listed at the top of the report (and returned to the CLI)."""
        self.findings.append(text)

    def claim(self, key: str, premise: bool, holds: str, otherwise: str, numbers: dict | None = None,
              seed: str | None = None) -> bool:
        """A finding that is a claim with a premise: ``holds`` is written only when ``premise``
        is true on the measurements, ``otherwise`` (what happened instead) when it is not. Both
        texts carry the numbers they rest on; ``numbers`` are recorded under ``key.<name>`` so
        tests can check them, and ``claims[key]`` says which text was written. ``seed``: what
        the seed document claims, added as "(the seed says ...; this measurement agrees /
        contradicts it)" so a contradicted seed is said in so many words."""
        premise = bool(premise)
        for name, value in (numbers or {}).items():
            self.number(f"{key}.{name}", value)
        text = holds if premise else otherwise
        if seed is not None:
            text += f" (The seed says {seed}; this measurement {'agrees' if premise else 'contradicts it'}.)"
        self.claims[key] = premise
        self.finding(text)
        return premise

    def finding_starting(self, start: str) -> str:
        """The one finding that starts with ``start`` (an error if none or several do)."""
        found = [f for f in self.findings if f.startswith(start)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} findings start with {start!r}")
        return found[0]

    @property
    def findings_text(self) -> str:
        """Every finding, one per line."""
        return "\n".join(self.findings)

    def section(self, title: str) -> None:
        self.blocks.append(f"## {title}")

    def text(self, text: str) -> None:
        self.blocks.append(text)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence], caption: str | None = None) -> None:
        """A Markdown table; cells that are numbers are formatted with :func:`fmt`."""
        self.blocks.append(markdown_table(headers, rows) + (f"\n\n*{caption}*" if caption else ""))

    def set_summary(self, headers: Sequence[str], rows: Sequence[Sequence]) -> None:
        """The short table the CLI prints and the report shows under "Summary"."""
        self.summary = (list(headers), [list(r) for r in rows])

    def figure(self, filename: str, draw: Callable, caption: str, size=(6.4, 4.0)) -> None:
        """Draw ``draw(fig)`` into ``out/filename`` (when the report has a folder) and reference it.
        ``draw`` may instead be a factory from :func:`curves` that returns a finished figure."""
        if self.out is not None:
            path = self.out / filename
            if self._pending is None:
                save_figure(path, draw, size)
            else:
                self._pending.append((path, draw, size))
            self.figures.append(path)
        self.blocks.append(f"![{caption}]({filename})\n\n*{caption}*")

    def defer_figures(self) -> None:
        """From now on, :meth:`figure` only notes what to draw; :meth:`draw_figures` draws it all."""
        if self._pending is None:
            self._pending = []

    def draw_figures(self, workers: int | None = None) -> None:
        """Draw the deferred figures, several at once (:func:`glassnet.studies.drawing.draw_all`)."""
        from .drawing import draw_all  # noqa: PLC0415

        pending, self._pending = self._pending or [], None
        draw_all(pending, save_figure, workers)

    # output ----------------------------------------------------------------------------------
    def render(self) -> str:
        parts = [f"# {self.title}"] + self.intro
        if self.findings:
            parts.append("## Key findings (computed from this run)")
            parts.append("\n".join(f"- {f}" for f in self.findings))
        if self.summary is not None:
            parts.append("## Summary")
            parts.append(markdown_table(*self.summary))
        parts += self.blocks
        return "\n\n".join(parts) + "\n"

    def summary_text(self) -> str:
        """The summary table as aligned plain text (for the terminal)."""
        if self.summary is None:
            return ""
        return plain_table(*self.summary)


def _cell(v) -> str:
    return v if isinstance(v, str) else fmt(v)


def _md(v) -> str:
    return _cell(v).replace("|", "\\|")  # a literal pipe must not end the cell


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    lines = ["| " + " | ".join(_md(h) for h in headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    cells = [list(headers)] + [[_cell(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def parse_markdown_table(text: str, first_header: str) -> list[dict[str, str]]:
    """Rows of the first table in ``text`` whose first header is ``first_header`` (for tests and
    for reading a report back)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = _split_row(line)
        if line.startswith("|") and cells and cells[0] == first_header:
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(cells, _split_row(row))))
            return rows
    raise KeyError(f"no table with first header {first_header!r}")


# -- figures ----------------------------------------------------------------------------------

def save_figure(path: Path, draw: Callable, size=(6.4, 4.0), dpi: int = 80) -> Path:
    """Create a figure (matplotlib's object API, no pyplot), call ``draw(fig)``, save a PNG.
    Small dpi keeps report folders (and the docs gallery) light."""
    if getattr(draw, "is_factory", False):
        fig = draw()
        fig.set_size_inches(*size)
    else:
        from matplotlib.figure import Figure  # noqa: PLC0415 - only when figures are written

        fig = Figure(figsize=size, layout="constrained")  # no global state
        draw(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # a reader never sees half a file
    try:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def curves(steps, groups: dict, metric: str = "loss", title: str = "", logy: bool | None = None,
           hline: float | None = None) -> Callable:
    """A figure factory for :meth:`Report.figure`: one line per group (mean over seeds, band from
    the lowest to the highest seed) via :func:`glassnet.plots.curves_figure`.

    ``groups``: ``{label: curves (S, T)}`` on the shared ``steps (T,)``; ``hline``: a dotted
    reference level.
    """

    def make():
        from .. import plots  # noqa: PLC0415 - matplotlib only when drawing

        series = {str(k): [(np.asarray(steps), np.asarray(row, dtype=float)) for row in np.atleast_2d(v)]
                  for k, v in groups.items()}
        fig = plots.curves_figure(series, metric=metric, title=title, logy=logy)
        if hline is not None:
            fig.axes[0].axhline(hline, color="grey", ls=":", lw=1)
        return fig

    make.is_factory = True
    return make
