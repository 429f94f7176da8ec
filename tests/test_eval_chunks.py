"""Whole-split evaluation in chunks (bpcli/training/metrics.py): sized by the model's largest layer
output, and the same numbers as one forward pass over the whole split."""

import numpy as np
import pytest

from bpcli.spec import build_model, load_spec_text
from bpcli.training import metrics
from bpcli.training.metrics import EVAL_CHUNK, eval_chunk, evaluate_split

CONVNET = """
seed: 1
data: {type: spiral}
model:
  - conv2d: {filters: 8, kernel: 3, padding: 1}
  - relu
  - maxpool2d: {size: 2}
  - flatten
  - dense: 4
"""
MLP = """
seed: 1
data: {type: spiral}
model:
  - dense: 16
  - relu
  - dense: 4
"""


def _model(text, input_shape):
    return build_model(load_spec_text(text), input_shape, 4, dtype=np.float32)


def test_a_convnet_is_evaluated_in_chunks_whose_largest_layer_output_fits_the_budget():
    model = _model(CONVNET, (1, 28, 28))
    chunk = eval_chunk(model)
    per_example = 8 * 28 * 28 * 4  # the conv's output, float32
    assert chunk * per_example <= metrics.EVAL_LAYER_BYTES < (chunk + 1) * per_example
    assert eval_chunk(_model(MLP, (2,))) == EVAL_CHUNK  # small layers: the usual chunk


@pytest.mark.parametrize("text, input_shape", [(CONVNET, (1, 6, 6)), (MLP, (2,))])
def test_evaluation_in_chunks_gives_the_numbers_of_one_pass_over_the_split(monkeypatch, text, input_shape):
    model = _model(text, input_shape)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((23, *input_shape)).astype(np.float32)
    y = rng.integers(0, 4, 23)
    scores = model.scores(X).astype(np.float64)
    expected_loss = float(model.loss_fn.value(scores, y))
    expected_accuracy = float(np.mean(scores.argmax(axis=1) == y))
    monkeypatch.setattr(metrics, "EVAL_LAYER_BYTES", 5 * max(np.prod(s) for s in model.graph.shapes.values()) * 4)
    assert eval_chunk(model) == 5  # 23 examples: four chunks of 5 and one of 3
    loss, accuracy = evaluate_split(model, X, y, classification=True)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert accuracy == expected_accuracy
