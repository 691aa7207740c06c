"""A study's raw measurements as tidy tables: pandas DataFrames, or dicts of NumPy columns.

A study's ``measure`` returns nested dicts of arrays and numbers (``result.data``); this module
flattens them into tables with one number per row, which :func:`glassnet.notebook.study_tables`
(and ``gn.study(...).tables()``) returns and a study result's notebook display previews. The
rules are in :func:`measurement_tables`. pandas is optional and imported only when asked for.

>>> import numpy as np
>>> data = {"runs": {"relu": {"loss": np.ones((2, 3)), "final": 0.5},
...                  "tanh": {"loss": np.zeros((2, 3)), "final": 0.25}}, "n": 8}
>>> tables, skipped = measurement_tables(data)
>>> {name: list(cols) for name, cols in tables.items()}
{'runs:loss': ['runs', 'axis0', 'axis1', 'loss'], 'runs:final': ['runs', 'final'], 'scalars': ['n']}
>>> tables["runs:final"]["final"].tolist(), tables["runs:loss"]["runs"][:4].tolist()
([0.5, 0.25], ['relu', 'relu', 'relu', 'relu'])
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_TABLE_CELLS", "as_frames", "measurement_tables"]

#: arrays larger than this many values stay out of the tables (they remain in ``result.data``)
MAX_TABLE_CELLS = 2_000_000

_SCALAR_TYPES = (bool, int, float, str, np.generic)


def _leaf(value):
    """A measurement as an array (a number or string as a 0-d one); None if it is not tabular
    (None, objects, ragged lists)."""
    if isinstance(value, np.ndarray):
        return value if value.dtype != object else None
    if isinstance(value, _SCALAR_TYPES):
        return np.asarray(value)
    if isinstance(value, (list, tuple)) and value:
        try:
            arr = np.asarray(value)
        except ValueError:                      # ragged
            return None
        return arr if arr.dtype != object else None
    return None


def _as_dict(value):
    """Dicts as they are; a non-empty list of dicts as a dict keyed by position; else None."""
    if isinstance(value, dict):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, dict) for v in value):
        return dict(enumerate(value))
    return None


def _keyed(d: dict) -> bool:
    """A dict whose entries are alike (two or more dicts with the same keys): one row group
    per entry, its key becoming a column, as ``runs = {"relu": {...}, "tanh": {...}}``."""
    kids = [_as_dict(v) for v in d.values()]
    return len(kids) >= 2 and all(k is not None for k in kids) and len({tuple(k) for k in kids}) == 1


def _collect(d: dict, keys: tuple, prefix: str, name: str, level: int, out: list) -> None:
    """Append ``(keys, column, array)`` for every leaf under ``d``. ``keys`` holds ``(column,
    value)`` pairs of the alike-dict levels passed on the way down."""
    if _keyed(d):
        col = name if level == 0 else f"{name}.{level}"
        for k, child in d.items():
            pairs = tuple((f"{col}[{i}]", v) for i, v in enumerate(k)) if isinstance(k, tuple) else ((col, k),)
            _collect(_as_dict(child), keys + pairs, "", name, level + 1, out)
        return
    for k, v in d.items():
        sub = _as_dict(v)
        if sub is not None:
            _collect(sub, keys, f"{prefix}{k}/", str(k), 0, out)
        else:
            arr = _leaf(v)
            if arr is not None:
                out.append((keys, f"{prefix}{k}", arr))


def _key_column(value, n: int) -> np.ndarray:
    return np.full(n, value, dtype=object if not isinstance(value, _SCALAR_TYPES) else None)


def _block_columns(keys: tuple, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per element of the (equal-shaped) arrays ``cols``: the key columns, an ``axisK``
    index column per array axis, then the values."""
    shape = next(iter(cols.values())).shape
    n = int(np.prod(shape, dtype=np.int64))
    out = {c: _key_column(v, n) for c, v in keys}
    idx = np.indices(shape).reshape(len(shape), -1) if shape else np.zeros((0, 1), dtype=int)
    for axis in range(len(shape)):
        out[f"axis{axis}"] = idx[axis]
    for c, a in cols.items():
        out[c if c not in out else f"{c} (value)"] = a.reshape(-1)
    return out


def _family_tables(family: str, leaves: list, max_cells: int, skipped: list) -> list[tuple[str, dict]]:
    """The tables of one top-level measurement. Columns go together when they have the same
    shape wherever both are measured (under the same keys), so each table is a set of arrays
    that index alike; its rows stack every key's block (a column one key lacks is filled with
    NaN, or "" for text)."""
    shapes: dict[tuple, dict[tuple, tuple]] = {}         # (key names, column) -> {key values: shape}
    values: dict[tuple, dict[tuple, np.ndarray]] = {}
    for keys, col, arr in leaves:
        if arr.size > max_cells:
            skipped.append(f"{family + ': ' if family else ''}{col} {arr.shape}")
            continue
        names, inst = tuple(c for c, _ in keys), tuple(v for _, v in keys)
        shapes.setdefault((names, col), {})[inst] = arr.shape
        values.setdefault((names, col), {})[inst] = arr
    groups: list[tuple[tuple, list[str]]] = []             # (key names, columns)
    for (names, col), where in shapes.items():
        for g_names, cols in groups:
            if g_names != names:
                continue
            common = [[shapes[(names, c)][i] == shp for i, shp in where.items() if i in shapes[(names, c)]]
                      for c in cols]
            if all(all(m) for m in common) and any(common):
                cols.append(col)
                break
        else:
            groups.append((names, [col]))
    out = []
    for names, cols in groups:
        instances = list(dict.fromkeys(i for c in cols for i in values[(names, c)]))
        parts = []
        for inst in instances:
            block = {c: values[(names, c)][inst] for c in cols if inst in values[(names, c)]}
            parts.append(_block_columns(tuple(zip(names, inst)), block))
        out.append((cols[0], _stack(parts)))
    if len(out) == 1 and family:
        return [(family, out[0][1])]
    return [(f"{family}:{first}" if family else first, t) for first, t in out]


def _stack(parts: list[dict]) -> dict[str, np.ndarray]:
    """Concatenate column dicts row-wise; columns in order of first appearance, holes filled."""
    if len(parts) == 1:
        return parts[0]
    columns = list(dict.fromkeys(c for p in parts for c in p))
    out = {}
    for c in columns:
        have = [p[c] for p in parts if c in p]
        text = all(a.dtype.kind in "US" for a in have)
        out[c] = np.concatenate([p[c] if c in p else np.full(len(next(iter(p.values()))), "" if text else np.nan)
                                 for p in parts])
    return out


def measurement_tables(data: dict, summary=None, max_cells: int = MAX_TABLE_CELLS):
    """A study's raw measurements (``result.data``) as tidy tables: ``({name: {column: array}},
    skipped)``.

    Each top-level measurement gives one table or more; in each, every row is one number:

    * entries of an alike dict (``runs = {"relu": {...}, "tanh": {...}}``, dicts with the same
      keys) become rows with a key column named after the dict (``runs``; a tuple key gives
      ``runs[0]``, ``runs[1]``; a nested alike level ``runs.1``), a list of dicts likewise;
    * other nested dicts name their columns by path (``init/step_norms``);
    * arrays that have the same shape wherever both are measured sit side by side as columns,
      one row per element, with its index in columns ``axis0``, ``axis1``, ... (for per-model
      curves ``(M, T)``, ``axis0`` is the model and ``axis1`` the logged point); an array one
      key lacks leaves NaN (or "") in that key's rows;
    * numbers and strings are 0-d: one row per key (a measurement's lone numbers, one row).

    A table named ``measurement`` holds all of one measurement; when it splits by shape the
    tables are ``measurement:first_column``. Top-level arrays group by shape and are named
    after their first column; top-level numbers form ``scalars``. ``summary`` (the report's
    ``(headers, rows)``) comes first as ``summary``. Arrays over ``max_cells`` values are left
    out and listed in ``skipped``.
    """
    tables: dict[str, dict[str, np.ndarray]] = {}
    skipped: list[str] = []

    def add(name, table):
        base, k = name, 2
        while name in tables:
            name, k = f"{base} ({k})", k + 1
        tables[name] = table

    if summary is not None:
        headers, rows = summary
        cols = list(zip(*rows)) if rows else [()] * len(headers)
        add("summary", {h: _summary_column(c) for h, c in zip(headers, cols)})
    top: list = []
    for key, value in data.items():
        sub = _as_dict(value)
        if sub is None:
            arr = _leaf(value)
            if arr is not None:
                top.append(((), str(key), arr))
            continue
        leaves: list = []
        _collect({key: sub} if _keyed(sub) else sub, (), "", str(key), 0, leaves)
        for name, table in _family_tables(str(key), leaves, max_cells, skipped):
            add(name, table)
    for name, table in _family_tables("", top, max_cells, skipped):
        add("scalars" if not any(c.startswith("axis") for c in table) else name, table)
    return tables, skipped


def _summary_column(values) -> np.ndarray:
    """A summary-table column: floats when every cell is a number, strings when every cell is
    text, else objects (a formatted cell beside numbers)."""
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)) for v in values):
        return np.asarray(values, dtype=float)
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str)
    return np.asarray(values, dtype=object)


def as_frames(tables: dict, as_frame: bool | None):
    """Tables as pandas DataFrames (``as_frame=None``: when pandas is installed) or as dicts of
    column arrays."""
    if as_frame is False:
        return tables
    try:
        import pandas as pd  # noqa: PLC0415 - optional
    except ImportError:
        if as_frame:
            from .errors import GlassnetError  # noqa: PLC0415

            raise GlassnetError("as_frame=True needs pandas (pip install pandas); as_frame=None "
                                "returns dicts of column arrays without it") from None
        return tables
    return {name: pd.DataFrame(cols) for name, cols in tables.items()}
