"""The `csv` dataset: one example per row, one column of labels, every other column a number;
and `read_feature_csv`, the same reading for rows to predict (the label column optional)."""

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np

from bpcli.data.arrays import FLOAT32_MAX, as_features, as_targets, check_lengths, labels_for, resolve_path
from bpcli.data.registry import DATASETS, RawData
from bpcli.errors import DataError, did_you_mean
from bpcli.input_files import cut


# a decimal number in ASCII, nothing else: no '1_000', no Arabic-Indic digits, no trailing NUL
# (NumPy's str -> float cast drops trailing NULs and reads all of those)
NUMBER = re.compile(r"[ \t]*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[ \t]*")
NON_FINITE = re.compile(r"[ \t]*[-+]?(?:nan|inf|infinity)[ \t]*", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _is_number(cell: str) -> bool:
    return NUMBER.fullmatch(cell) is not None


def _read_rows(path: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) for every non-empty row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            return [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot read as CSV: {err}") from None


def _label_index(label: Union[int, str], names: Optional[list[str]], n_cols: int, source: str) -> int:
    if isinstance(label, str) and not label.lstrip("-").isdigit():
        if names is None:
            raise DataError(f"{source}: label column '{label}' named, but the file has no header row; give its index")
        if label not in names:
            raise DataError(
                f"{source}: no column '{label}'{did_you_mean(label, names)}; columns: {', '.join(names)}"
            )
        return names.index(label)
    index = int(label)
    if not -n_cols <= index < n_cols:
        raise DataError(f"{source}: label column {index} is out of range for {n_cols} columns")
    return index % n_cols


def _bad_cell(source: str, line: int, col: int, names: Optional[list[str]], cell: str, why: str) -> DataError:
    column = f"column {col + 1}" + (f" ('{cut(names[col], 40)}')" if names else "")
    return DataError(f"{source}: row {line}, {column}: {why} {cut(repr(cell), 60)}")


def _features(rows, feature_cols, names, source) -> np.ndarray:
    """The feature cells as float64; on failure, a DataError at the first bad cell."""
    cells = [[row[c] for c in feature_cols] for _, row in rows]
    X = None
    if all(NUMBER.fullmatch(cell) for row in cells for cell in row):
        X = np.array(cells, dtype=np.str_).astype(np.float64)
    if X is not None and np.isfinite(X).all() and (np.abs(X) <= FLOAT32_MAX).all():
        return X
    for line, row in rows:  # slow path: find the first cell that is not a finite float32 number
        for c in feature_cols:
            _cell_value(row[c], source, line, c, names)
    raise DataError(f"{source}: cannot read the feature columns as numbers")  # unreachable in practice


def _cell_value(cell: str, source: str, line: int, col: int, names: Optional[list[str]]) -> float:
    """A cell as a number that fits float32, or a DataError naming its row and column."""
    if NON_FINITE.fullmatch(cell):
        raise _bad_cell(source, line, col, names, cell, "NaN and inf are not allowed:")
    if not _is_number(cell):
        raise _bad_cell(source, line, col, names, cell, "not a number:")
    value = float(cell)
    if not math.isfinite(value):
        raise _bad_cell(source, line, col, names, cell, "NaN and inf are not allowed:")
    if abs(value) > FLOAT32_MAX:
        raise _bad_cell(source, line, col, names, cell,
                        f"the value does not fit float32 (largest magnitude {FLOAT32_MAX:.4g}):")
    return value


def _class_labels(cells: list[str], rows, label_col, names, source):
    """Integer labels as they are; any other text labels become ids in sorted order."""
    for (line, _), cell in zip(rows, cells):
        if not cell:
            raise _bad_cell(source, line, label_col, names, cell, "empty label:")
        if CONTROL.search(cell):
            raise _bad_cell(source, line, label_col, names, cell, "control character in the label:")
    if all(_is_number(c) or NON_FINITE.fullmatch(c) for c in cells):
        values = np.array([float(c) for c in cells])
        for (line, _), cell, v in zip(rows, cells, values):
            if not math.isfinite(v) or v != round(v) or v < 0:
                raise _bad_cell(
                    source, line, label_col, names, cell,
                    "class labels must be integers >= 0 or names (task: regression for real targets):",
                )
        return values.astype(np.int64), None
    classes = sorted(set(cells))
    ids = {name: i for i, name in enumerate(classes)}
    return np.array([ids[c] for c in cells], dtype=np.int64), tuple(classes)


def _table(file: Path, delimiter: str, header: Optional[bool]):
    """(column names or None, data rows, number of columns); every row the same length."""
    source = str(file)
    rows = _read_rows(file, delimiter)
    if not rows:
        raise DataError(f"{source}: the file is empty")
    has_header = header if header is not None else not any(_is_number(c) for c in rows[0][1])
    names = [c.strip() for c in rows[0][1]] if has_header else None
    n_cols = len(rows[0][1])
    rows = rows[1:] if has_header else rows
    if not rows:
        raise DataError(f"{source}: no data rows after the header")
    for line, row in rows:
        if len(row) != n_cols:
            raise DataError(f"{source}: row {line} has {len(row)} cells, expected {n_cols}")
    return names, rows, n_cols


@dataclass
class FeatureRows:
    """Rows to predict: X (N, n_features) float64, and the column skipped as a label, if any."""

    X: np.ndarray
    label_column: Optional[int] = None  # 0-based
    label_name: Optional[str] = None


def read_feature_csv(path: Union[str, Path], n_features: int, *, label: Union[int, str] = -1,
                     delimiter: str = ",", header: Optional[bool] = None) -> FeatureRows:
    """CSV rows of `n_features` numbers; a file with one more column (labelled like the training
    CSV) has its `label` column skipped (by name when the file has a header, else by index)."""
    file = Path(path)
    if file.is_dir():
        raise DataError(f"{file} is a directory, not a CSV file")
    if not file.is_file():
        raise DataError(f"input file not found: {file}")
    source = str(file)
    names, rows, n_cols = _table(file, delimiter, header)
    label_col = None
    if n_cols == n_features + 1:
        named = isinstance(label, str) and not label.lstrip("-").isdigit()
        label_col = _label_index(-1 if named and label not in (names or []) else label, names, n_cols, source)
    elif n_cols != n_features:
        raise DataError(f"{source}: {n_cols} columns, but the model takes {n_features} features per row")
    feature_cols = [c for c in range(n_cols) if c != label_col]
    X = _features(rows, feature_cols, names, source)
    return FeatureRows(X, label_col, names[label_col] if names and label_col is not None else None)


@DATASETS.register("csv")
def csv_dataset(
    *,
    rng: np.random.Generator,
    base_dir: Optional[Path] = None,
    path: str = "",
    label: Union[int, str] = -1,
    header: Optional[bool] = None,
    delimiter: str = ",",
    task: Literal["classification", "regression"] = "classification",
) -> RawData:
    """CSV rows -> X (N, columns-1) and y: `label` is the label column's name or index (default: last)."""
    if not path:
        raise DataError("csv: set `path:` to the CSV file")
    if len(delimiter) != 1:
        raise DataError(f"csv: delimiter must be one character, got {delimiter!r}")
    file = resolve_path(path, base_dir, "CSV file")
    source = str(file)
    names, rows, n_cols = _table(file, delimiter, header)
    if n_cols < 2:
        raise DataError(f"{source}: need at least 2 columns (features and a label), found {n_cols}")
    label_col = _label_index(label, names, n_cols, source)
    feature_cols = [c for c in range(n_cols) if c != label_col]
    X = _features(rows, feature_cols, names, source)
    cells = [row[label_col].strip() for _, row in rows]
    class_names = None
    if task == "regression":
        for (line, _), cell in zip(rows, cells):
            _cell_value(cell, source, line, label_col, names)
        y = as_targets(np.array([float(c) for c in cells]), source)
    else:
        y, class_names = _class_labels(cells, rows, label_col, names, source)
    check_lengths(X, y, source)
    n_classes = len(class_names) if class_names else None
    return RawData(as_features(X, source), labels_for(task, y, source),
                   task=task, n_classes=n_classes, class_names=class_names,
                   source=source, rows=np.array([line for line, _ in rows]))
