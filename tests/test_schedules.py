"""Learning-rate schedules: values from their formulas, warmup, reduce-on-plateau; every registered
schedule on every one of its `examples` against its formula at every epoch."""

import math

import pytest

from bpcli.nn.schedules import SCHEDULES
from registered import enrolled, with_defaults


def lrs(name, epochs=10, base=1.0, **options):
    schedule = SCHEDULES.get(name)(**options)
    return [schedule.lr(base, e, epochs) for e in range(epochs)]


def test_registry_names():
    assert set(SCHEDULES.names()) == {"constant", "step", "exponential", "cosine", "plateau"}


def test_constant():
    assert lrs("constant", base=0.5) == [0.5] * 10


def test_step_multiplies_by_gamma_every_step_size_epochs():
    assert lrs("step", epochs=7, step_size=3, gamma=0.5) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]


def test_exponential():
    assert lrs("exponential", epochs=4, base=2.0, gamma=0.5) == [2.0, 1.0, 0.5, 0.25]


def test_cosine_goes_from_base_to_min_along_half_a_cosine():
    values = lrs("cosine", epochs=4, base=1.0, min_factor=0.0)
    # 0.5 * (1 + cos(pi * e / 4)) for e = 0..3
    assert values == pytest.approx([1.0, 0.853553390593, 0.5, 0.146446609407])
    floor = lrs("cosine", epochs=2, base=1.0, min_factor=0.2)
    assert floor == pytest.approx([1.0, 0.2 + 0.8 * 0.5])


def test_warmup_ramps_linearly_then_starts_the_schedule():
    values = lrs("step", epochs=6, base=1.0, warmup_epochs=3, step_size=2, gamma=0.1)
    assert values == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 0.1])
    cosine = lrs("cosine", epochs=5, base=1.0, warmup_epochs=1)
    assert cosine[0] == pytest.approx(0.5)
    assert cosine[1] == pytest.approx(1.0)  # cosine's own epoch 0 of 4
    assert cosine[3] == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 4)))


def test_plateau_reduces_after_patience_bad_epochs_and_keeps_state():
    plateau = SCHEDULES.get("plateau")(monitor="val_loss", factor=0.5, patience=2)
    seen = []
    for loss in [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.94, 0.94]:
        seen.append(plateau.lr(1.0, len(seen), 100))
        plateau.observe({"val_loss": loss, "train_loss": 0.0})
    # best 0.9 at epoch 1; bad epochs 2, 3, 4 -> third bad (> patience 2) halves lr from epoch 5
    assert seen == [1, 1, 1, 1, 1, 0.5, 0.5, 0.5]
    restored = SCHEDULES.get("plateau")(monitor="val_loss", factor=0.5, patience=2)
    restored.load_state_dict(plateau.state_dict())
    assert restored.lr(1.0, 9, 100) == plateau.lr(1.0, 9, 100)
    assert (restored.best, restored.bad_epochs) == (plateau.best, plateau.bad_epochs)


def test_plateau_on_accuracy_wants_it_to_rise():
    plateau = SCHEDULES.get("plateau")(monitor="val_accuracy", factor=0.1, patience=0)
    plateau.observe({"val_accuracy": 0.5})
    plateau.observe({"val_accuracy": 0.6})
    assert plateau.lr(1.0, 2, 10) == 1.0
    plateau.observe({"val_accuracy": 0.55})
    assert plateau.lr(1.0, 3, 10) == pytest.approx(0.1)


# --- every registered schedule on every one of its examples, against its formula --------------

EPOCHS = 12
# a made-up run: losses that stall and recover, accuracies that stall and rise
METRICS = [
    {"val_loss": v, "train_loss": t, "val_accuracy": a, "train_accuracy": a + 0.05}
    for v, t, a in zip(
        [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.8, 0.85, 0.86, 0.87, 0.88, 0.7],
        [1.0, 0.97, 0.96, 0.99, 0.9, 0.88, 0.87, 0.86, 0.7, 0.72, 0.71, 0.69],
        [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.71, 0.69, 0.69, 0.8, 0.8, 0.8],
    )
]


def _plateau_scales(o: dict) -> list:
    """The multiplier in force at each epoch under the stated rule: after more than `patience`
    epochs without beating the best by more than min_delta, multiply by factor (not below min_factor)."""
    sign = -1 if o["monitor"].endswith("accuracy") else 1
    scale, best, bad, scales = 1.0, math.inf, 0, []
    for metrics in METRICS:
        scales.append(scale)
        value = sign * metrics[o["monitor"]]
        if value < best - o["min_delta"]:
            best, bad = value, 0
        else:
            bad += 1
            if bad > o["patience"]:
                scale, bad = max(scale * o["factor"], o["min_factor"]), 0
    return scales


FORMULAS = {  # the multiplier of base_lr at the schedule's own epoch e of E (after warmup)
    "constant": lambda o, e, E, scales: 1.0,
    "step": lambda o, e, E, scales: o["gamma"] ** math.floor(e / o["step_size"]),
    "exponential": lambda o, e, E, scales: o["gamma"] ** e,
    "cosine": lambda o, e, E, scales: o["min_factor"] + (1 - o["min_factor"]) * (1 + math.cos(math.pi * e / E)) / 2,
    "plateau": lambda o, e, E, scales: scales[e + o["warmup_epochs"]],
}


def test_every_registered_schedule_has_a_formula_here():
    assert sorted(FORMULAS) == sorted(SCHEDULES.names())


@pytest.mark.parametrize("name,entry,options", enrolled(SCHEDULES))
def test_every_registered_schedule_follows_its_formula_at_every_epoch(name, entry, options):
    base = 0.3
    o = with_defaults(entry, options)
    w = o["warmup_epochs"]
    scales = _plateau_scales(o) if name == "plateau" else None
    expected = [base * (e + 1) / (w + 1) if e < w else base * FORMULAS[name](o, e - w, EPOCHS - w, scales)
                for e in range(EPOCHS)]
    schedule = entry(**options)
    got = []
    for e in range(EPOCHS):
        got.append(schedule.lr(base, e, EPOCHS))
        schedule.observe(METRICS[e])
    assert got == pytest.approx(expected, rel=1e-12)
