"""Loss and accuracy of a trained model on its own splits, another spec's data or a data file."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np

from bpcli.errors import DataError
from bpcli.trained.load import TrainedModel
from bpcli.training.setup import load_dataset

FILE_DATASETS = {".csv": "csv", ".npz": "npz"}  # --data FILE suffix -> dataset type


def evaluation_splits(trained: TrainedModel, data_source: Optional[str] = None) -> Dict[str, tuple]:
    """{split: (X prepared for the model, y)}: the model's own splits, another spec's splits
    (with the training standardization) or every row of a .csv/.npz file (one split 'data')."""
    from bpcli.data import load_data
    from bpcli.spec import load_spec

    if data_source is None:
        return load_dataset(trained.spec, trained.model.graph.dtype).splits()
    kind = FILE_DATASETS.get(Path(data_source).suffix.lower())
    if kind is not None:
        section = {"type": kind, "path": str(Path(data_source).resolve())}
        data = load_data(section, base_dir=Path.cwd(), seed=trained.spec.seed)
        X = np.concatenate([data.X_train] + ([data.X_test] if data.X_test is not None else []))
        y = np.concatenate([data.y_train] + ([data.y_test] if data.y_test is not None else []))
        splits = {"data": (X, y)}
    else:
        other = load_spec(data_source)
        data = load_data(dict(other.data, standardize=False), base_dir=other.base_dir, seed=other.seed)
        splits = data.splits()
    return {k: (trained.prepare(X), y) for k, (X, y) in splits.items()}


def evaluate_trained(trained: TrainedModel, data_source: Optional[str] = None) -> Dict[str, Optional[float]]:
    """{split}_loss (data loss) and {split}_accuracy for every split, and `reg_loss` of the weights."""
    from bpcli.training.metrics import split_metrics

    splits = evaluation_splits(trained, data_source)
    for name, (X, y) in splits.items():
        if X.shape[1:] != tuple(trained.input_shape):
            raise DataError(f"the data has {X.shape[1:]} values per example, the model expects {tuple(trained.input_shape)}")
        _check_labels(trained, name, y)
    try:
        return split_metrics(trained.model, splits, trained.task == "classification")
    except DataError as err:
        raise DataError(f"{err.message}{_classes_note(trained)}") from None


def _check_labels(trained: TrainedModel, split: str, y: np.ndarray) -> None:
    k = trained.n_classes
    if trained.task != "classification" or not k or not len(y) or int(y.max()) < k:
        return
    raise DataError(f"{split}: label {int(y.max())} is not a class of this model{_classes_note(trained)} "
                    f"(ids 0..{k - 1}); is the data from another spec?")


def _classes_note(trained: TrainedModel) -> str:
    k = trained.n_classes
    return f"; the checkpoint's model predicts {k} classes" if trained.task == "classification" and k else ""
