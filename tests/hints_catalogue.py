"""The catalogue of realistic backward-pass bugs, each with its correct twin and the hint it must
get (None: no hint expected, but never a wrong one). Shared by the hints test and the notebook."""

import sys
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES / "cs231n"))
import bugs  # noqa: E402
import classifiers  # noqa: E402
import layers  # noqa: E402

sys.path.insert(0, str(FIXTURES))
import broken_layers  # noqa: E402


def _rng(seed=0):
    return np.random.default_rng(seed)


def affine_inputs(square=False, image=False):
    r = _rng(1)
    x = r.standard_normal((4, 2, 3) if image else (4, 3))
    d = 6 if image else 3
    return dict(x=x, w=r.standard_normal((d, 3 if square else 5)), b=r.standard_normal(3 if square else 5))


def relu_inputs():
    return dict(x=_rng(2).standard_normal((4, 5)))


def conv_inputs():
    r = _rng(3)
    return dict(x=r.standard_normal((2, 2, 7, 7)), w=r.standard_normal((2, 2, 3, 3)),
                b=r.standard_normal(2), conv_param={"stride": 1, "pad": 1})


def strided_conv_inputs():
    r = _rng(10)
    return dict(x=r.standard_normal((2, 2, 7, 7)), w=r.standard_normal((2, 2, 3, 3)),
                b=r.standard_normal(2), conv_param={"stride": 2, "pad": 1})


def pool_inputs(stride=2):
    return dict(x=_rng(4).standard_normal((2, 2, 6, 6)),
                pool_param={"pool_height": 2, "pool_width": 2, "stride": stride})


def bn_inputs():
    r = _rng(5)
    return dict(x=r.standard_normal((4, 5)) * 2 + 1, gamma=r.standard_normal(5),
                beta=r.standard_normal(5), bn_param={"mode": "train"})


def dropout_inputs():
    return dict(x=_rng(6).standard_normal((4, 5)), dropout_param={"p": 0.6, "mode": "train", "seed": 1})


def scores_inputs():
    return dict(x=_rng(7).standard_normal((5, 4)), y=np.array([0, 3, 1, 2, 0]))


def linear_inputs():
    r = _rng(8)
    return dict(W=r.standard_normal((6, 3)), X=r.standard_normal((5, 6)), y=np.array([0, 2, 1, 0, 1]), reg=0.1)


def net_inputs():
    return dict(X=_rng(9).standard_normal((4, 6)), y=np.array([0, 1, 2, 0]))


# (name, kind, broken, twin, inputs, the gradient that is wrong, words the hint must contain or None)
# kind: "pair" (forward, backward), "loss" (function), "net" (class with .loss), "layer" (Layer class)
CATALOGUE = [
    ("affine: db not summed over the batch", "pair", (layers.affine_forward, bugs.affine_backward_db_not_summed),
     (layers.affine_forward, layers.affine_backward), affine_inputs, "db", "not summed over the batch"),
    ("affine: dw transposed (square w)", "pair", (layers.affine_forward, bugs.affine_backward_dw_transposed),
     (layers.affine_forward, layers.affine_backward), lambda: affine_inputs(square=True), "dw", "transpose"),
    ("affine: dx not reshaped like x", "pair", (layers.affine_forward, bugs.affine_backward_dx_not_reshaped),
     (layers.affine_forward, layers.affine_backward), lambda: affine_inputs(image=True), "dx", "reshape"),
    ("affine: dout forgotten in dw", "pair", (layers.affine_forward, bugs.affine_backward_forgets_dout),
     (layers.affine_forward, layers.affine_backward), affine_inputs, "dw", "forgot to multiply by dout"),
    ("affine: dw divided by N", "pair", (layers.affine_forward, bugs.affine_backward_mean_over_batch),
     (layers.affine_forward, layers.affine_backward), affine_inputs, "dw", "(the batch size)"),
    ("relu: mask forgotten", "pair", (layers.relu_forward, bugs.relu_backward_unmasked),
     (layers.relu_forward, layers.relu_backward), relu_inputs, "dx", "non-zero"),
    ("relu: masks dout in place", "pair", (layers.relu_forward, bugs.relu_backward_in_place),
     (layers.relu_forward, layers.relu_backward), relu_inputs, None, "modified dout in place"),
    ("relu: sign flipped", "pair", (layers.relu_forward, bugs.relu_backward_wrong_sign),
     (layers.relu_forward, layers.relu_backward), relu_inputs, "dx", "sign error"),
    ("conv: clipped border windows use the wrong weights", "pair",
     (layers.conv_forward_naive, bugs.conv_backward_clipped_border),
     (layers.conv_forward_naive, layers.conv_backward_naive), conv_inputs, "dx", "border"),
    ("conv: windows assigned (=) instead of added (+=)", "pair",
     (layers.conv_forward_naive, bugs.conv_backward_assigns_windows),
     (layers.conv_forward_naive, layers.conv_backward_naive), strided_conv_inputs, "dx", "period 2"),
    ("max pool: last row of windows skipped", "pair",
     (layers.max_pool_forward_naive, bugs.max_pool_backward_skips_last_row),
     (layers.max_pool_forward_naive, layers.max_pool_backward_naive), pool_inputs, "dx", "exactly 0"),
    ("max pool: gradient spread over the window", "pair",
     (layers.max_pool_forward_naive, bugs.max_pool_backward_spread),
     (layers.max_pool_forward_naive, layers.max_pool_backward_naive), pool_inputs, "dx", "non-zero"),
    ("max pool: windows stepped by the pool size, not the stride", "pair",
     (layers.max_pool_forward_naive, bugs.max_pool_backward_window_step),
     (layers.max_pool_forward_naive, layers.max_pool_backward_naive), lambda: pool_inputs(stride=1), "dx", None),
    ("batchnorm: mean term dropped", "pair", (layers.batchnorm_forward, bugs.batchnorm_backward_no_mean_term),
     (layers.batchnorm_forward, layers.batchnorm_backward), bn_inputs, "dx", "same for every example"),
    ("batchnorm: no division by the std", "pair", (layers.batchnorm_forward, bugs.batchnorm_backward_no_inv_std),
     (layers.batchnorm_forward, layers.batchnorm_backward), bn_inputs, "dx", "constant along each column"),
    ("batchnorm: treated as elementwise", "pair", (layers.batchnorm_forward, bugs.batchnorm_backward_elementwise),
     (layers.batchnorm_forward, layers.batchnorm_backward), bn_inputs, "dx", "diagonal of the Jacobian"),
    ("batchnorm: cache rescaled in place", "pair", (layers.batchnorm_forward, bugs.batchnorm_backward_mutates_cache),
     (layers.batchnorm_forward, layers.batchnorm_backward), bn_inputs, "dx", "two identical calls"),
    ("dropout: new mask in backward", "pair", (layers.dropout_forward, bugs.dropout_backward_new_mask),
     (layers.dropout_forward, layers.dropout_backward), dropout_inputs, "dx", "two identical calls"),
    ("dropout: 1/p forgotten", "pair", (layers.dropout_forward, bugs.dropout_backward_no_scale),
     (layers.dropout_forward, layers.dropout_backward), dropout_inputs, "dx", "constant factor"),
    ("softmax loss: no / N", "loss", bugs.softmax_loss_no_mean, layers.softmax_loss, scores_inputs, "dx",
     "(the batch size)"),
    ("softmax loss: normalized over the whole batch", "loss", bugs.softmax_loss_whole_batch, layers.softmax_loss,
     scores_inputs, "dx", "right with one example"),
    ("svm naive: regularization gradient missing", "loss", bugs.svm_loss_naive_no_reg_grad,
     classifiers.svm_loss_naive, linear_inputs, "dW", "the regularization"),
    ("softmax naive: regularization gradient halved", "loss", bugs.softmax_loss_naive_half_reg,
     classifiers.softmax_loss_naive, linear_inputs, "dW", "the regularization"),
    ("svm naive: correct-class column with the wrong sign", "loss", bugs.svm_loss_naive_correct_class_sign,
     classifiers.svm_loss_naive, linear_inputs, "dW", None),
    ("two-layer net: relu mask forgotten", "net", bugs.TwoLayerNetNoReluMask, classifiers.TwoLayerNet,
     net_inputs, "W1", None),
    ("layer: dW transposed", "layer", broken_layers.TransposedAffine, broken_layers.Affine, None, "W",
     "transpose"),
    ("layer: square dW transposed", "layer", broken_layers.SquareTransposedAffine, broken_layers.Affine, None,
     "W", "transpose"),
    ("layer: db not summed", "layer", broken_layers.BiasNotSummedAffine, broken_layers.Affine, None, "b",
     "not summed over the batch"),
    ("layer: dout forgotten", "layer", broken_layers.ForgetsUpstreamAffine, broken_layers.Affine, None, "W",
     "forgot to multiply by dout"),
    ("layer: factor 2 of w² missing", "layer", broken_layers.HalfSquaredScale, broken_layers.SquaredScale, None,
     "w", "factor 2 missing"),
    ("layer: sign of a subtracted bias", "layer", broken_layers.WrongSignShift, broken_layers.Shift, None, "b",
     "sign error"),
    ("layer: grads accumulated", "layer", broken_layers.AccumulatingShift, broken_layers.Shift, None, "b",
     "accumulates into grads"),
]


def run(kind, target, inputs, **options):
    """The TargetReport for one catalogue entry (broken or twin)."""
    from bpcli.gradcheck.check import check_functions, check_layer, check_loss

    if kind == "pair":
        return check_functions(*target, inputs(), **options)
    if kind == "loss":
        return check_loss(target, inputs(), **options)
    if kind == "net":
        net = target(6, 5, 3, weight_scale=0.5, reg=0.1) if target is classifiers.TwoLayerNet else target(reg=0.1)
        return check_loss(net.loss, inputs(), **options)
    return check_layer(target, **options)


def words(report) -> str:
    """Every hint and problem the report gives, as one text."""
    texts = [h for c in report.checks for h in c.hints]
    texts += [n for o in report.report.objectives for n in o.notes]
    return " ".join(" ".join(texts).split())
