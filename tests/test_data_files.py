"""CSV, NPZ and IDX loaders with good files and broken ones (every file is made in tmp_path)."""

import gzip
import struct

import numpy as np
import pytest

from bpcli.data import DATASETS, load_data
from bpcli.errors import BpcliError, DataError


def load(name, tmp_path, **options):
    return DATASETS.get(name)(rng=np.random.default_rng(0), base_dir=tmp_path, **options)


def write(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    return name


# ---------------------------------------------------------------- CSV

def test_csv_with_header_label_by_name(tmp_path):
    write(tmp_path, "d.csv", "a,label,b\n1.5,0,2\n-3,2,4e-1\n0,1,7\n")
    raw = load("csv", tmp_path, path="d.csv", label="label")
    np.testing.assert_array_equal(raw.X, np.array([[1.5, 2], [-3, 0.4], [0, 7]], dtype=np.float32))
    np.testing.assert_array_equal(raw.y, [0, 2, 1])
    assert raw.X.dtype == np.float32 and raw.X.flags.c_contiguous and raw.y.dtype == np.int64


def test_csv_without_header_label_by_index_and_default_last(tmp_path):
    write(tmp_path, "d.csv", "3,1.0,2.0\n1,3.0,4.0\n")
    by_index = load("csv", tmp_path, path="d.csv", label=0)
    np.testing.assert_array_equal(by_index.X, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(by_index.y, [3, 1])
    last = load("csv", tmp_path, path="d.csv")  # label: -1, header detected as absent
    np.testing.assert_array_equal(last.X, [[3, 1], [1, 3]])
    np.testing.assert_array_equal(last.y, [2, 4])


def test_csv_header_option_overrides_detection(tmp_path):
    write(tmp_path, "d.csv", "1,2,0\n3,4,1\n5,6,1\n")
    raw = load("csv", tmp_path, path="d.csv", header=True)
    assert len(raw.X) == 2  # first row taken as column names


def test_csv_text_labels_become_sorted_class_ids(tmp_path):
    write(tmp_path, "d.csv", "x,kind\n1,dog\n2,cat\n3,emu\n4,cat\n")
    raw = load("csv", tmp_path, path="d.csv", label="kind")
    assert raw.class_names == ("cat", "dog", "emu")
    np.testing.assert_array_equal(raw.y, [1, 0, 2, 0])
    assert raw.n_classes == 3


def test_csv_regression_targets_are_floats(tmp_path):
    write(tmp_path, "d.csv", "x,t\n1,0.5\n2,-1.25\n")
    raw = load("csv", tmp_path, path="d.csv", task="regression")
    assert raw.y.dtype == np.float32 and raw.task == "regression"
    np.testing.assert_array_equal(raw.y, [0.5, -1.25])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a,b,y\n1,2,0\n3,oops,1\n", ["row 3", "column 2", "'b'", "oops"]),
        ("a,b,y\n1,2,0\n3,,1\n", ["row 3", "column 2"]),
        ("a,b,y\n1,2,0\n1,nan,1\n", ["row 3", "column 2", "NaN"]),
        ("a,b,y\n1,2,0\ninf,2,1\n", ["row 3", "column 1", "'a'"]),
        ("a,b,y\n1,2,0\n1,2\n", ["row 3", "2 cells", "expected 3"]),
        ("1,2,0\n1,2,0,5\n", ["row 2", "4 cells"]),
        ("a,b,y\n1,2,0.5\n", ["row 2", "column 3", "integers"]),
        ("a,b,y\n1,2,-1\n", ["row 2", "integers"]),
        ("a,b,y\n1,2,0\n1,2,\n", ["row 3", "column 3", "empty label"]),
        ("", ["empty"]),
        ("a,b,y\n", ["no data rows"]),
    ],
)
def test_csv_broken_files_name_row_and_column(tmp_path, text, expected):
    write(tmp_path, "bad.csv", text)
    with pytest.raises(DataError) as err:
        load("csv", tmp_path, path="bad.csv")
    assert "bad.csv" in err.value.message
    for part in expected:
        assert part in err.value.message
    assert err.value.exit_code == 2


def test_csv_missing_label_column_suggests_the_close_one(tmp_path):
    write(tmp_path, "d.csv", "x1,x2,label\n1,2,0\n")
    with pytest.raises(DataError, match=r"no column 'lable' \(did you mean 'label'\?\)"):
        load("csv", tmp_path, path="d.csv", label="lable")
    with pytest.raises(DataError, match="out of range"):
        load("csv", tmp_path, path="d.csv", label=5)


def test_csv_label_name_without_header_is_an_error(tmp_path):
    write(tmp_path, "d.csv", "1,2,0\n")
    with pytest.raises(DataError, match="no header"):
        load("csv", tmp_path, path="d.csv", label="y")


def test_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match="not found: nope.csv"):
        load("csv", tmp_path, path="nope.csv")


def test_regression_target_nan_is_rejected(tmp_path):
    write(tmp_path, "d.csv", "x,t\n1,0.5\n2,nan\n")
    with pytest.raises(DataError, match="row 3"):
        load("csv", tmp_path, path="d.csv", task="regression")


# ---------------------------------------------------------------- NPZ

def test_npz_good_and_with_its_own_test_split(tmp_path):
    X = np.arange(12, dtype=np.float64).reshape(6, 2)
    np.savez(tmp_path / "d.npz", X=X, y=np.array([0, 1, 2, 0, 1, 2]))
    raw = load("npz", tmp_path, path="d.npz")
    np.testing.assert_array_equal(raw.X, X)
    assert raw.X.dtype == np.float32 and raw.y.dtype == np.int64 and raw.X_test is None
    np.savez(tmp_path / "t.npz", X=X, y=np.zeros(6, int), X_test=X[:2], y_test=np.ones(2, np.uint8))
    raw = load("npz", tmp_path, path="t.npz")
    assert raw.X_test.shape == (2, 2) and raw.y_test.dtype == np.int64


def test_npz_integer_valued_float_labels_are_accepted(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.ones((2, 2)), y=np.array([1.0, 0.0]))
    np.testing.assert_array_equal(load("npz", tmp_path, path="d.npz").y, [1, 0])


@pytest.mark.parametrize(
    "arrays, expected",
    [
        ({"X": np.ones((3, 2))}, "missing array(s) y; the file has: X"),
        ({"features": np.ones((3, 2)), "y": np.zeros(3)}, "missing array(s) X"),
        ({"X": np.array([[1, None]], dtype=object), "y": np.zeros(1)}, "pickle"),
        ({"X": np.ones((3, 2)), "y": np.zeros(2)}, "3 inputs but 2 labels"),
        ({"X": np.array([[1.0, 2.0], [np.nan, 0]]), "y": np.zeros(2)}, "index (1, 0)"),
        ({"X": np.ones((2, 2)), "y": np.array([0.5, 1])}, "not a class id"),
        ({"X": np.array([["a", "b"]]), "y": np.zeros(1)}, "must be numbers"),
    ],
)
def test_npz_broken_files(tmp_path, arrays, expected):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError) as err:
        load("npz", tmp_path, path="bad.npz")
    assert expected in err.value.message


def test_npz_that_is_not_a_zip(tmp_path):
    write(tmp_path, "bad.npz", "hello")
    with pytest.raises(DataError, match="not a readable .npz"):
        load("npz", tmp_path, path="bad.npz")


# ---------------------------------------------------------------- IDX

def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """The IDX encoding written out from the format's definition."""
    dtype = {0x08: ">u1", 0x0D: ">f4"}[type_code]
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


def write_idx_pair(tmp_path, images, labels, gz=True, prefix=""):
    opener = gzip.compress if gz else (lambda b: b)
    suffix = ".gz" if gz else ""
    (tmp_path / f"{prefix}images{suffix}").write_bytes(opener(idx_bytes(images)))
    (tmp_path / f"{prefix}labels{suffix}").write_bytes(opener(idx_bytes(labels)))
    return f"{prefix}images{suffix}", f"{prefix}labels{suffix}"


@pytest.mark.parametrize("gz", [True, False])
def test_idx_images_scaled_to_unit_interval(tmp_path, gz):
    images = np.arange(5 * 3 * 4).reshape(5, 3, 4) * 4  # 0 .. 236
    labels = np.array([0, 1, 2, 1, 0])
    im, lb = write_idx_pair(tmp_path, images, labels, gz=gz)
    raw = load("idx", tmp_path, images=im, labels=lb)
    assert raw.X.shape == (5, 1, 3, 4) and raw.X.dtype == np.float32
    np.testing.assert_allclose(raw.X[:, 0], images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(raw.y, labels)
    flat = load("idx", tmp_path, images=im, labels=lb, flatten=True)
    assert flat.X.shape == (5, 12) and flat.X.flags.c_contiguous


def test_idx_with_test_files(tmp_path):
    im, lb = write_idx_pair(tmp_path, np.zeros((4, 2, 2)), np.arange(4))
    tim, tlb = write_idx_pair(tmp_path, np.ones((2, 2, 2)), np.array([3, 3]), prefix="t-")
    raw = load("idx", tmp_path, images=im, labels=lb, test_images=tim, test_labels=tlb)
    assert raw.X_test.shape == (2, 1, 2, 2) and list(raw.y_test) == [3, 3]


def test_idx_float_images_are_not_rescaled(tmp_path):
    images = np.array([[[0.5, -2.0]]], dtype=np.float32)
    (tmp_path / "im").write_bytes(idx_bytes(images, 0x0D))
    (tmp_path / "lb").write_bytes(idx_bytes(np.array([1])))
    raw = load("idx", tmp_path, images="im", labels="lb")
    np.testing.assert_array_equal(raw.X.ravel(), [0.5, -2.0])


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda b: b"\x01\x00" + b[2:], "bad magic number"),
        (lambda b: b[:2] + b"\x42" + b[3:], "bad magic number"),
        (lambda b: b[:-3], "truncated"),
        (lambda b: b + b"\x00", "longer than its header"),
        (lambda b: b[:6], "truncated"),
        (lambda b: gzip.compress(b)[:-10], "cannot read"),
        (lambda b: b"", "bad magic number"),
    ],
)
def test_idx_broken_files(tmp_path, damage, expected):
    good = idx_bytes(np.zeros((3, 2, 2)))
    (tmp_path / "im").write_bytes(damage(good))
    (tmp_path / "lb").write_bytes(idx_bytes(np.zeros(3)))
    with pytest.raises(DataError) as err:
        load("idx", tmp_path, images="im", labels="lb")
    assert expected in err.value.message and "im" in err.value.message


def test_idx_label_count_must_match(tmp_path):
    im, lb = write_idx_pair(tmp_path, np.zeros((3, 2, 2)), np.zeros(4))
    with pytest.raises(DataError, match="3 inputs but 4 labels"):
        load("idx", tmp_path, images=im, labels=lb)


def test_load_data_resolves_paths_against_base_dir(tmp_path):
    write(tmp_path, "d.csv", "x,y\n1,0\n2,1\n3,0\n4,1\n")
    data = load_data({"type": "csv", "path": "d.csv", "val_fraction": 0.25}, base_dir=tmp_path, seed=0)
    assert len(data.X_train) == 3 and len(data.X_val) == 1 and data.n_classes == 2


def test_load_data_rejects_unknown_options_and_types(tmp_path):
    with pytest.raises(DataError, match="did you mean 'points_per_class'"):
        load_data({"type": "spiral", "points_per_clas": 3}, base_dir=tmp_path, seed=0)
    with pytest.raises(BpcliError, match="did you mean 'spiral'"):
        load_data({"type": "spirals"}, base_dir=tmp_path, seed=0)
