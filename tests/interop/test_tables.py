"""CSV files and pandas DataFrames in: load_csv, from_pandas, as_array, and the estimators on frames."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import load_csv
from glassnet.data.tables import as_array, from_pandas


def write(tmp_path, text, name="t.csv", mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


GOOD = "a,b,label\n1,2.5,0\n3,-4e-1,1\n\n5,6,1\n"


def test_reads_features_label_and_names(tmp_path):
    x, y, names = load_csv(write(tmp_path, GOOD), label="label")
    assert names == ["a", "b"] and x.dtype == np.float32
    assert np.array_equal(x, np.array([[1, 2.5], [3, -0.4], [5, 6]], np.float32))
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 1]


def test_columns_by_name_or_index_delimiter_header_quotes(tmp_path):
    path = write(tmp_path, 'x;"y, quoted";z;t\n1;2;3;a\n4;5;6;b\n')
    x, y, names = load_csv(path, label=3, columns=["z", 0], delimiter=";", dtype="float64")
    assert names == ["z", "x"] and x.tolist() == [[3, 1], [6, 4]] and x.dtype == np.float64
    assert y.tolist() == ["a", "b"]  # string class labels stay strings
    x, y, names = load_csv(write(tmp_path, "1\t2\n3\t4\n", "n.tsv"), delimiter="\t", header=False, label=0)
    assert names == ["1"] and x.tolist() == [[2], [4]] and y.tolist() == [1, 3]
    x, y, names = load_csv(write(tmp_path, "\ufeffa,b\n1,2\n", "bom.csv"))
    assert names == ["a", "b"] and y is None
    _, y, _ = load_csv(write(tmp_path, "a,t\n1,0.5\n2,1.5\n", "f.csv"), label="t")
    assert y.dtype == np.float64 and y.tolist() == [0.5, 1.5]


def test_missing_values_reported_by_line_dropped_or_filled(tmp_path):
    path = write(tmp_path, "a,b,label\n1,,0\n2,3,1\nNA,4,0\n5,?,1\n")
    with pytest.raises(gn.GlassnetError, match=r"missing values in column 'b' at lines 2, 5; column 'a' at "
                                               r"lines 4; pass missing='drop'"):
        load_csv(path, label="label")
    x, y, _ = load_csv(path, label="label", missing="drop")
    assert x.tolist() == [[2, 3]] and y.tolist() == [1]
    x, y, _ = load_csv(path, label="label", missing=-1.0)
    assert x.tolist() == [[1, -1], [2, 3], [-1, 4], [5, -1]] and y.tolist() == [0, 1, 0, 1]
    # (in a one-column file an empty field is a blank line, and blank lines are skipped)
    many = write(tmp_path, "a\n" + "\n".join(["1", "NA"] * 2 + ["nan"] * 6) + "\n\n", "many.csv")
    with pytest.raises(gn.GlassnetError, match=r"at lines 3, 5, 6, 7, 8 \(and 3 more\)"):
        load_csv(many, header=True)


def test_missing_labels_are_never_filled(tmp_path):
    path = write(tmp_path, "a,label\n1,0\n2,\n")
    with pytest.raises(gn.GlassnetError, match=r"label column 'label' has missing values at lines 3"):
        load_csv(path, label="label", missing=0.0)
    x, y, _ = load_csv(path, label="label", missing="drop")
    assert x.tolist() == [[1]] and y.tolist() == [0]


@pytest.mark.parametrize("text, kwargs, match", [
    ("a,b\n1,red\n", {}, r"column 'b' is not numeric: line 2 has 'red'"),
    ("a,b\n1,2\n3,inf\n", {}, r"column 'b' has the non-finite value 'inf' at line 3"),
    ("a,b\n1,2\n3,4,5\n", {}, r"line 3 has 3 fields, expected 2 \(as the header\); wrong delimiter ','\?"),
    ("a;b\n1;2\n", {"label": "b"}, r"label column 'b' does not exist; columns: \['a;b'\]"),
    ("a,b\n1,2\n", {"columns": ["c"]}, r"columns column 'c' does not exist"),
    ("a,b\n1,2\n", {"label": "a", "columns": ["a", "b"]}, r"column 'a' is both the label and a feature"),
    ("a,a\n1,2\n", {}, r"column names must be unique; repeated: \['a'\]"),
    ("a,b\n", {}, "no data rows after the header"),
    ("\n\n", {}, "the file has no rows"),
    ('a,b\n1,"2\n', {}, "unexpected end of data"),
    ("a,b\n1,2\n", {"label": 5}, r"label must be a column name or an index in \[0, 2\), got 5"),
    ("a,b\n1,2\n", {"missing": "zero"}, "missing must be 'error', 'drop' or a finite number"),
    ("a,b\n1,2\n", {"delimiter": ",,"}, "delimiter must be one character"),
    ("a,label\n,1\n", {"label": "label", "missing": "drop"}, "no rows left after dropping"),
])
def test_malformed_files_are_one_clear_line(tmp_path, text, kwargs, match):
    with pytest.raises(gn.GlassnetError, match=match):
        load_csv(write(tmp_path, text), **kwargs)


def test_binary_missing_and_oversized_files(tmp_path, monkeypatch):
    with pytest.raises(gn.GlassnetError, match=r"line 2 is not utf-8 text"):
        load_csv(write(tmp_path, b"a,b\n\xff\xfe,1\n", "bin.csv", mode="wb"))
    with pytest.raises(gn.GlassnetError, match=r"line 1 holds a NUL byte"):
        load_csv(write(tmp_path, b"a\x00b\n", "nul.csv", mode="wb"))
    with pytest.raises(gn.GlassnetError, match="no such file"):
        load_csv(tmp_path / "absent.csv")
    with pytest.raises(gn.GlassnetError, match="not a regular file"):
        load_csv(tmp_path)
    path = write(tmp_path, "a,b\n" + "1,2\n" * 1000, "big.csv")
    monkeypatch.setenv("GLASSNET_MAX_BYTES", "4096")
    with pytest.raises(gn.GlassnetError, match="over the memory budget of 4,096 bytes"):
        load_csv(path)


def test_csv_trains_an_estimator_end_to_end(tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris

    from glassnet.sklearn import GlassnetClassifier

    iris = load_iris()
    lines = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    lines += [",".join(f"{v:g}" for v in row) + f",{iris.target_names[t]}" for row, t in zip(iris.data, iris.target)]
    x, y, names = load_csv(write(tmp_path, "\n".join(lines) + "\n", "iris.csv"), label="species")
    assert names[0] == "sepal_length" and x.shape == (150, 4) and set(y) == set(iris.target_names)
    clf = GlassnetClassifier(hidden_layer_sizes=(16,), epochs=40, lr=0.01, random_state=0).fit(x, y)
    assert clf.score(x, y) > 0.9 and set(clf.classes_) == set(iris.target_names)


# -- pandas ---------------------------------------------------------------------------------------------

pd = pytest.importorskip("pandas")


def test_from_pandas_numeric_fast_path_and_checks():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "y": ["u", "v", "u"]}, index=[10, 11, 12])
    x, y, names = from_pandas(frame, label="y")
    assert names == ["a", "b"] and x.dtype == np.float32 and y.tolist() == ["u", "v", "u"]
    x, y, _ = from_pandas(frame[["a", "b"]], label=pd.Series([0, 1, 1]))
    assert y.tolist() == [0, 1, 1]
    bad = frame.assign(c=["1", "two", "3"])
    with pytest.raises(gn.GlassnetError, match=r"column 'c' is not numeric: row 11 has 'two'"):
        from_pandas(bad, label="y")
    holes = pd.DataFrame({"a": [1.0, None, 3.0], "b": pd.array([1, 2, pd.NA], dtype="Int64")}, index=["p", "q", "r"])
    with pytest.raises(gn.GlassnetError, match=r"column 'a' at rows q; column 'b' at rows r"):
        from_pandas(holes)
    x, _, _ = from_pandas(holes, missing="drop")
    assert x.tolist() == [[1, 1]]
    with pytest.raises(gn.GlassnetError, match="frame must be a pandas DataFrame"):
        from_pandas(np.zeros((2, 2)))


def test_as_array_names_columns_and_rows():
    frame = pd.DataFrame({"a": [1, 2], "b": pd.array([3, 4], dtype="Int64")})
    assert as_array(frame).dtype == np.float64 and as_array(frame).tolist() == [[1, 3], [2, 4]]
    assert np.asarray(frame.astype({"b": "Int64"})).dtype == object  # what the engine's np.asarray gives
    with pytest.raises(gn.GlassnetError, match=r"x: column 'c' is not numeric \(row 0: 'x'\)"):
        as_array(frame.assign(c=["x", "y"]))
    with pytest.raises(gn.GlassnetError, match=r"y: column 'v' has missing values at rows 1"):
        as_array(pd.Series([1.0, None], name="v"), "y")
    assert as_array([1, 2]).tolist() == [1, 2]


def test_engine_fit_and_predict_take_numeric_frames_as_they_are():
    frame = pd.DataFrame({"a": [0.0, 1, 0, 1], "b": [0, 0, 1, 1]})
    target = pd.Series([0, 1, 1, 0])
    model = gn.Sequential([gn.Dense(4, activation="tanh"), gn.Dense(2)], seed=0)
    model.fit(frame, target, loss="softmax_cross_entropy", epochs=2, progress=False)
    assert np.array_equal(model.predict(frame), model.predict(frame.to_numpy()))


def test_estimators_and_search_accept_dataframes():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    from glassnet.sklearn import GlassnetClassifier, GlassnetSearchCV

    X, y = load_digits(return_X_y=True)
    frame = pd.DataFrame(X[:300] / 16, columns=[f"px{i}" for i in range(64)])
    target = pd.Series(y[:300], name="digit")
    clf = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=0).fit(frame, target)
    assert list(clf.feature_names_in_) == list(frame.columns)
    plain = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=0).fit(X[:300] / 16, y[:300])
    assert np.array_equal(clf.predict_proba(frame), plain.predict_proba(X[:300] / 16))
    search = GlassnetSearchCV(GlassnetClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0),
                              {"lr": [0.001, 0.01]}, cv=3).fit(frame, target)
    assert list(search.feature_names_in_) == list(frame.columns) and search.predict(frame).shape == (300,)
