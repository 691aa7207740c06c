"""The docs site: docstrings of public names, the generated config page, the tutorials' place in the
nav, the build. The tutorials run on a kernel in ``test_tutorials.py``."""

from __future__ import annotations

import importlib
import inspect
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.py"))
MODULES = ["glassnet", "glassnet.metrics", "glassnet.training", "glassnet.graph", "glassnet.callbacks"]
#: public names without a docstring of their own; an entry that gains a docstring must be
#: removed from here (the test checks that too)
KNOWN_UNDOCUMENTED: set[str] = set()


def _public(mod) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n, o in vars(mod).items() if not n.startswith("_")
                 and (inspect.isclass(o) or inspect.isfunction(o)) and getattr(o, "__module__", "") == mod.__name__]
    return list(names)


def _documented(obj) -> bool:
    doc = obj.__doc__ if inspect.isclass(obj) or inspect.ismodule(obj) else inspect.getdoc(obj)
    return bool(doc and doc.strip())


def test_every_public_name_has_a_docstring():
    missing, fixed = [], []
    for modname in MODULES:
        mod = importlib.import_module(modname)
        for name in _public(mod):
            key = f"{modname}.{name}"
            ok = _documented(getattr(mod, name))
            if not ok and key not in KNOWN_UNDOCUMENTED:
                missing.append(key)
            if ok and key in KNOWN_UNDOCUMENTED:
                fixed.append(key)
    assert not missing, f"public names without a docstring: {missing}"
    assert not fixed, f"now documented, remove from KNOWN_UNDOCUMENTED: {fixed}"


def test_config_reference_is_current():
    gen = runpy.run_path(str(DOCS / "gen_config_reference.py"))
    text = gen["render"]()
    assert (DOCS / "reference" / "config.md").read_text(encoding="utf-8") == text, \
        "docs/reference/config.md is out of date: run python docs/gen_config_reference.py"
    from glassnet.experiments.schema import DataConfig, ModelConfig, TrainingConfig  # every key listed
    for prefix, cls in (("data", DataConfig), ("model", ModelConfig), ("training", TrainingConfig)):
        for key in cls.model_fields:
            assert f"| `{prefix}.{key}` |" in text
    assert "`'float32'`; `'float64'`" in text and "a name from `losses`: " in text


def test_every_tutorial_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert len(TUTORIALS) == 6
    for path in TUTORIALS:
        assert f"tutorials/{path.name}" in nav


def test_mkdocs_build_strict(tmp_path):
    if shutil.which("mkdocs") is None and importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install '.[docs]')")
    for mod in ("material", "mkdocstrings_handlers.python", "mkdocs_click", "mkdocs_jupyter"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} is not installed (pip install '.[docs]')")
    site = tmp_path / "site"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    api = (site / "reference" / "api" / "glassnet" / "index.html").read_text(encoding="utf-8")
    for name in ("Sequential", "Dense", "Trainer", "History", "SGD"):
        assert name in api
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "glassnet study" in cli and "glassnet train" in cli
    assert (site / "tutorials" / "tour" / "index.html").is_file()


@pytest.mark.slow
def test_screenshots_script_regenerates_the_notebook_pictures(tmp_path):
    """``docs/screenshots.py --only notebook`` runs its notebook on a kernel, converts it and
    screenshots the three cells in headless Chromium (skipped without Chromium or Playwright)."""
    chromium = os.environ.get("GLASSNET_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).is_file():
        pytest.skip(f"no Chromium at {chromium} (set GLASSNET_CHROMIUM)")
    for mod in ("playwright", "nbclient", "nbconvert", "ipykernel"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} is not installed")
    proc = subprocess.run([sys.executable, str(DOCS / "screenshots.py"), "--only", "notebook", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    for name in ("notebook_liveplot.png", "notebook_model_graph.png", "notebook_study_tables.png"):
        png = (tmp_path / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert width > 500 and height > 200, (name, width, height)
        assert (DOCS / "gallery" / name).is_file(), f"docs/gallery/{name} is shown by getting-started.md"
