"""Learning-rate schedules: values from their formulas, warmup, reduce-on-plateau."""

import math

import pytest

from bpcli.nn.schedules import SCHEDULES


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
