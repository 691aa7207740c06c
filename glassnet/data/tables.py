"""Tables in: CSV files (:func:`load_csv`) and pandas DataFrames/Series (:func:`from_pandas`,
:func:`as_array`), as NumPy feature matrices and targets.

Every problem is one :class:`~glassnet.GlassnetError` line that names the file, the column and the
row: a non-numeric feature value, a row with too few or too many fields, missing values (listed by
row unless ``missing="drop"`` or a fill value is given), a label column that does not exist.
Rows are numbered as a text editor numbers the file's lines (the header is line 1); DataFrame
rows by their index label. A file is checked against the memory budget
(:func:`glassnet.data._util.max_array_bytes`, ``$GLASSNET_MAX_BYTES``) from its size before it is
read: parsing ``S`` bytes can yield at most ``S/2 + 1`` numbers.

pandas is optional: it is imported only by :func:`from_pandas` (and recognized, never imported,
by :func:`as_array`).
"""

from __future__ import annotations

import csv
import io
import numbers
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import GlassnetError
from ._util import check_budget

#: field values read as missing (compared case-insensitively, after stripping spaces)
MISSING_TOKENS = ("", "na", "nan", "n/a", "null", "none", "?")
_SHOW = 5  # rows named in an error before "and N more"


class Table(NamedTuple):
    """``x`` ``(n_rows, n_features)``, ``y`` ``(n_rows,)`` (None without a label) and the feature
    names; unpacks as ``x, y, feature_names = load_csv(...)``."""

    x: np.ndarray
    y: np.ndarray | None
    feature_names: list


def load_csv(path, label=None, columns=None, delimiter: str = ",", header: bool = True, missing="error",
             dtype="float32", encoding: str = "utf-8") -> Table:
    """Read a delimited text file into features and (optionally) a label.

    Parameters
    ----------
    path : the file.
    label : the target column, by name (with a header) or 0-based index; ``None`` for no target.
        Numeric labels come back as int64 when every value is a whole number, else float64;
        any other labels as strings (class names, fine for :class:`~glassnet.sklearn.GlassnetClassifier`).
    columns : the feature columns (names or indices), in this order; default every column but
        the label.
    delimiter : one character (``","``, ``";"``, ``"\\t"``, ...). Fields may be quoted.
    header : whether the first line holds column names (otherwise names are "0", "1", ...).
    missing : what to do with missing values (empty fields and ``NA``, ``NaN``, ``N/A``, ``null``,
        ``None``, ``?``): ``"error"`` (default: report them by row and column), ``"drop"`` (drop
        those rows) or a number to fill in. A missing label is never filled: it is an error or, with
        ``"drop"``, the row is dropped.
    dtype : of ``x``, "float32" (default) or "float64".

    Returns
    -------
    Table ``(x, y, feature_names)``
    """
    path = Path(path)
    if not path.is_file():
        raise GlassnetError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}", field="path")
    if not (isinstance(delimiter, str) and len(delimiter) == 1 and delimiter not in "\r\n\"'"):
        raise GlassnetError(f"delimiter must be one character (not a quote or newline), got {delimiter!r}",
                            field="delimiter", value=delimiter)
    fill = _check_missing(missing)
    size = path.stat().st_size
    check_budget((size // 2 + 1) * 8, path, "a CSV file of this size")
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise GlassnetError(f"{path}: line {line} is not {encoding} text (byte {exc.start}); is this a CSV file?",
                            field="path") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise GlassnetError(f"{path}: line {line} holds a NUL byte; is this a CSV file?", field="path")
    rows, lines = [], []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            rows.append([f.strip() for f in fields])
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise GlassnetError(f"{path}: line {reader.line_num}: {exc}", field="path") from None
    if not rows:
        raise GlassnetError(f"{path}: the file has no rows", field="path")
    if header:
        names, rows, lines = rows[0], rows[1:], lines[1:]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise GlassnetError(f"{path}: column names must be unique; repeated: {dup}", field="path")
    else:
        names = [str(i) for i in range(len(rows[0]))]
    if not rows:
        raise GlassnetError(f"{path}: no data rows after the header", field="path")
    width = len(names)
    for fields, line in zip(rows, lines):
        if len(fields) != width:
            raise GlassnetError(f"{path}: line {line} has {len(fields)} fields, expected {width} "
                                f"(as {'the header' if header else 'the first line'}); wrong delimiter "
                                f"{delimiter!r}?", field="path")
    label_i = None if label is None else _column_index(label, names, path, "label")
    feat = ([i for i in range(width) if i != label_i] if columns is None
            else [_column_index(c, names, path, "columns") for c in _as_list(columns)])
    if label_i is not None and label_i in feat:
        raise GlassnetError(f"{path}: column {names[label_i]!r} is both the label and a feature", field="columns")
    if not feat:
        raise GlassnetError(f"{path}: no feature columns left", field="columns")
    return _to_table([[r[i] for i in feat] for r in rows],
                     None if label_i is None else [r[label_i] for r in rows],
                     [names[i] for i in feat], None if label_i is None else names[label_i],
                     lines, fill, dtype, where=str(path), row_word="line")


def from_pandas(frame, label=None, columns=None, missing="error", dtype="float32") -> Table:
    """A pandas DataFrame (and optionally its label column) as a :class:`Table`, with
    :func:`load_csv`'s checks: non-numeric feature columns and missing values are reported by
    column and index label. ``label`` may also be a separate Series of the same length."""
    pd = _pandas()
    if not isinstance(frame, pd.DataFrame):
        raise GlassnetError(f"frame must be a pandas DataFrame, got {type(frame).__name__}", field="frame")
    fill = _check_missing(missing)
    names = [str(c) for c in frame.columns]
    y_values, label_name = None, None
    if isinstance(label, pd.Series):
        if len(label) != len(frame):
            raise GlassnetError(f"label has {len(label)} values but the frame has {len(frame)} rows", field="label")
        y_values, label_name = [_text(v) for v in label.tolist()], label.name
        label_i = None
    else:
        label_i = None if label is None else _column_index(label, names, "the DataFrame", "label")
        if label_i is not None:
            y_values, label_name = [_text(v) for v in frame.iloc[:, label_i].tolist()], names[label_i]
    feat = ([i for i in range(len(names)) if i != label_i] if columns is None
            else [_column_index(c, names, "the DataFrame", "columns") for c in _as_list(columns)])
    if not feat:
        raise GlassnetError("the DataFrame has no feature columns left", field="columns")
    from ..backend import resolve_dtype

    sub = frame.iloc[:, feat]
    if all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in sub.dtypes):
        x = sub.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isfinite(x).all() and (y_values is None or not any(v.lower() in MISSING_TOKENS for v in y_values)):
            return Table(x.astype(resolve_dtype(dtype)), None if y_values is None else _labels(y_values),
                         [names[i] for i in feat])
    cols = [frame.iloc[:, i] for i in feat]
    rows = [[_text(v) for v in vals] for vals in zip(*(c.tolist() for c in cols))]
    return _to_table(rows, y_values, [names[i] for i in feat], label_name, list(frame.index), fill, dtype,
                     where="the DataFrame", row_word="row")


def as_array(data, name: str = "x") -> np.ndarray:
    """``np.asarray(data)`` that also takes pandas DataFrames/Series with nullable or mixed dtypes
    (as float) and names the first non-numeric column or the rows holding missing values.
    Anything else goes to ``np.asarray`` untouched. (The engine's ``fit``/``predict`` call
    ``np.asarray``, which reads plain numeric frames already.)"""
    module = type(data).__module__.split(".")[0]
    if module != "pandas" or not hasattr(data, "to_numpy"):
        return np.asarray(data)
    frame = data.to_frame() if getattr(data, "ndim", 2) == 1 else data
    for col in frame.columns:
        values = frame[col]
        try:
            numeric = values.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            bad = next((i for i, v in zip(values.index, values.tolist()) if not _is_number(v)), None)
            raise GlassnetError(f"{name}: column {col!r} is not numeric (row {bad!r}: "
                                f"{values.loc[bad]!r})", field=name) from None
        nan = np.flatnonzero(np.isnan(numeric))
        if nan.size:
            raise GlassnetError(f"{name}: column {col!r} has missing values at rows "
                                f"{_listing([values.index[i] for i in nan])}", field=name)
    out = frame.to_numpy(dtype=np.float64)
    return out[:, 0] if getattr(data, "ndim", 2) == 1 else out


# -- helpers ------------------------------------------------------------------------------------------


def _to_table(rows, y_values, feature_names, label_name, row_ids, fill, dtype, where, row_word) -> Table:
    """Parse string fields into a Table; errors name ``where``, the column and the row id."""
    from ..backend import resolve_dtype

    dtype = resolve_dtype(dtype)
    n, k = len(rows), len(feature_names)
    x = np.empty((n, k), dtype=np.float64)
    missing_rows: dict[str, list] = {}
    keep = np.ones(n, dtype=bool)
    for r, fields in enumerate(rows):
        for c, text in enumerate(fields):
            if text.lower() in MISSING_TOKENS:
                x[r, c] = np.nan
                missing_rows.setdefault(feature_names[c], []).append(row_ids[r])
                keep[r] &= fill != "drop"
                continue
            try:
                value = float(text)
            except ValueError:
                raise GlassnetError(f"{where}: column {feature_names[c]!r} is not numeric: {row_word} "
                                    f"{row_ids[r]} has {text!r}", field="columns") from None
            if not np.isfinite(value):
                raise GlassnetError(f"{where}: column {feature_names[c]!r} has the non-finite value {text!r} at "
                                    f"{row_word} {row_ids[r]}", field="columns")
            x[r, c] = value
    if missing_rows and fill == "error":
        parts = [f"column {c!r} at {row_word}s {_listing(ids)}" for c, ids in missing_rows.items()]
        raise GlassnetError(f"{where}: missing values in {'; '.join(parts)}; pass missing='drop' to drop those "
                            "rows or a number to fill in", field="missing")
    if isinstance(fill, float):
        x[np.isnan(x)] = fill
    y = None
    if y_values is not None:
        absent = [i for i, v in enumerate(y_values) if v.lower() in MISSING_TOKENS]
        if absent and fill != "drop":
            raise GlassnetError(f"{where}: the label column {label_name!r} has missing values at {row_word}s "
                                f"{_listing([row_ids[i] for i in absent])}; labels are never filled in "
                                "(missing='drop' drops those rows)", field="label")
        keep[absent] = False
        y = _labels([v for v, ok in zip(y_values, keep) if ok])
    x = x[keep]
    if len(x) == 0:
        raise GlassnetError(f"{where}: no rows left after dropping the rows with missing values", field="missing")
    return Table(x.astype(dtype), y, list(feature_names))


def _labels(values) -> np.ndarray:
    """Integers if every value is a whole number, floats if every value is a number, else strings."""
    try:
        numbers_ = np.array([float(v) for v in values])
    except ValueError:
        return np.array(values, dtype=str)
    if np.all(np.isfinite(numbers_)) and np.all(numbers_ == np.round(numbers_)) and np.all(np.abs(numbers_) < 2**53):
        return numbers_.astype(np.int64)
    return numbers_


def _check_missing(missing):
    if missing in ("error", "drop") and isinstance(missing, str):
        return missing
    if isinstance(missing, numbers.Real) and not isinstance(missing, bool) and np.isfinite(missing):
        return float(missing)
    raise GlassnetError(f"missing must be 'error', 'drop' or a finite number to fill in, got {missing!r}",
                        field="missing", value=missing)


def _column_index(key, names, where, what) -> int:
    if isinstance(key, str):
        if key not in names:
            raise GlassnetError(f"{where}: {what} column {key!r} does not exist; columns: {names}", field=what,
                                value=key)
        return names.index(key)
    if isinstance(key, numbers.Integral) and not isinstance(key, bool) and -len(names) <= key < len(names):
        return int(key) % len(names)
    raise GlassnetError(f"{where}: {what} must be a column name or an index in [0, {len(names)}), got {key!r}",
                        field=what, value=key)


def _as_list(columns):
    if isinstance(columns, (str, numbers.Integral)):
        return [columns]
    return list(columns)


def _listing(ids) -> str:
    shown = ", ".join(str(i) for i in ids[:_SHOW])
    return shown + (f" (and {len(ids) - _SHOW} more)" if len(ids) > _SHOW else "")


def _text(value) -> str:
    """A DataFrame cell as the text load_csv would have read (missing values as "")."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if type(value).__name__ in ("NAType", "NaTType"):
        return ""
    return str(value).strip()


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) or value is None or type(value).__name__ == "NAType"


def _pandas():
    try:
        import pandas  # noqa: PLC0415
    except ImportError as exc:
        raise GlassnetError("from_pandas needs pandas; install it with `pip install glassnet[pandas]`") from exc
    return pandas
