"""Predictions for new inputs: CSV rows read like the training CSV, class (and probabilities)
per row, written as CSV to a stream or, safely, to a file."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Dict, List, TextIO

import numpy as np

from bpcli.errors import UsageError
from bpcli.trained.load import TrainedModel


def read_prediction_inputs(trained: TrainedModel, path: Path | str) -> tuple[np.ndarray, List[str]]:
    """(X, notes for the user): the rows of a CSV file, with the label column skipped when the
    file has one (the training CSV's `label` and `delimiter` apply to a model trained on a CSV)."""
    from bpcli.data.csv_file import read_feature_csv

    if len(trained.input_shape) != 1:
        raise UsageError(f"predict reads flat CSV rows; this model takes inputs of shape {trained.input_shape}")
    section = trained.spec.data
    trained_on_csv = section.get("type") == "csv"
    rows = read_feature_csv(
        path, trained.input_shape[0],
        label=section.get("label", -1) if trained_on_csv else -1,
        delimiter=section.get("delimiter", ",") if trained_on_csv else ",",
    )
    notes = []
    if rows.label_column is not None:
        name = f" ('{rows.label_name}')" if rows.label_name else ""
        notes.append(f"ignoring column {rows.label_column + 1}{name} as the label "
                     f"(the model takes {trained.input_shape[0]} features)")
    return rows.X, notes


def predict(trained: TrainedModel, X: np.ndarray) -> Dict[str, list]:
    """Columns of a predictions table: `prediction` and, for classifiers, `prob_<class>`
    (softmax of the scores, or the sigmoid of a single score column)."""
    scores = trained.model.scores(trained.prepare(X)).astype(np.float64)
    if trained.task != "classification":
        return {"prediction": scores.reshape(len(X), -1)[:, 0].tolist()}
    names = trained.checkpoint.meta["data"].get("class_names")
    if scores.ndim == 2 and scores.shape[1] > 1:
        ids = scores.argmax(axis=1)
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs = shifted / shifted.sum(axis=1, keepdims=True)
    else:
        ids = (scores.reshape(-1) > 0).astype(np.int64)
        p1 = 1.0 / (1.0 + np.exp(-scores.reshape(-1)))
        probs = np.stack([1 - p1, p1], axis=1)
    labels = [names[i] if names else int(i) for i in ids]
    columns: Dict[str, list] = {"prediction": labels}
    for k in range(probs.shape[1]):
        columns[f"prob_{names[k] if names else k}"] = probs[:, k].tolist()
    return columns


def write_predictions(stream: TextIO, columns: Dict[str, list], fmt: str = "csv") -> None:
    """A header row, then one row per example; floats with 6 significant digits. With
    fmt="json": {"columns": [...], "predictions": [{column: value} per example]}, full floats."""
    if fmt == "json":
        import json

        names = list(columns)
        rows = [dict(zip(names, row)) for row in zip(*(columns[n] for n in names))]
        stream.write(json.dumps({"columns": names, "predictions": rows}) + "\n")
        return
    writer = csv.writer(stream, lineterminator="\n")
    names = list(columns)
    writer.writerow(names)
    for row in zip(*(columns[n] for n in names)):
        writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])


def check_output_path(out: Path, inputs: Path, force: bool = False) -> None:
    """Refuse an --out that is the input file, a directory, or (without --force) an existing file."""
    if out.resolve() == inputs.resolve() or (out.exists() and inputs.exists() and os.path.samefile(out, inputs)):
        raise UsageError(f"--out {out} is the input file; write the predictions somewhere else")
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory; give a file name, e.g. {out / 'predictions.csv'}")
    if out.exists() and not force:
        raise UsageError(f"{out} already exists; add --force to overwrite it")
    if not out.parent.is_dir():
        raise UsageError(f"cannot write {out}: the directory {out.parent} does not exist")


def write_predictions_file(out: Path, columns: Dict[str, list], fmt: str = "csv") -> None:
    """Write the table to `out` whole or not at all (temporary file + os.replace)."""
    from bpcli.training.atomic_file import atomic_writer

    text = io.StringIO()
    write_predictions(text, columns, fmt)
    try:
        with atomic_writer(out) as f:
            f.write(text.getvalue().encode("utf-8"))
    except OSError as err:
        raise UsageError(f"cannot write {out}: {err.strerror or err}") from None

