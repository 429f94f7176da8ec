"""Class labels checked against the model's outputs before a run writes anything."""

from __future__ import annotations

from typing import Optional

import numpy as np

from bpcli.errors import DataError


def check_labels_fit(data, output_shape: tuple) -> None:
    """A DataError when a class label has no score in the model's output: naming the file and
    the first row (in file order) with such a label, or the dataset option that made it."""
    if data.task != "classification" or not data.n_classes or len(output_shape) != 1:
        return
    n_out = int(output_shape[0])
    n_labels = 2 if n_out == 1 else n_out  # one score column: labels 0 and 1
    if data.n_classes <= n_labels:
        return
    fix = f"make the last layer {data.n_classes} wide, or fix the label"
    wanted = f"the model has {n_out} output{'s' if n_out != 1 else ''} (labels 0..{n_labels - 1})"
    read = data.labels_as_read
    if read is None or read.source is None:
        raise DataError(f"data: the dataset has {data.n_classes} classes but {wanted}; {fix}")
    for y, source, rows in ((read.y, read.source, read.rows), (read.y_test, f"{read.source} (test split)", None)):
        where = _first_at_least(y, n_labels)
        if where is not None:
            row = f"row {int(rows[where])}" if rows is not None else f"example {where}"
            raise DataError(f"{source}: {row}: label {int(y[where])} is out of range: {wanted}; {fix}")
    raise DataError(f"data: the dataset has {data.n_classes} classes but {wanted}; {fix}")


def _first_at_least(y: Optional[np.ndarray], limit: int) -> Optional[int]:
    if y is None or not len(y):
        return None
    bad = np.flatnonzero(y >= limit)
    return int(bad[0]) if len(bad) else None
