"""The hints catalogue: realistic backward-pass bugs, each with its correct twin.

Every bug fails naming the wrong gradient; every twin passes with no hint at all; a hint, when
given, is the one the bug deserves (the catalogue names it) and names the wrong gradient; and at
least two thirds of the catalogue gets its hint.
"""

import pytest

from hints_catalogue import CATALOGUE, run, words

IDS = [entry[0] for entry in CATALOGUE]


@pytest.mark.parametrize("entry", CATALOGUE, ids=IDS)
def test_the_bug_fails_and_its_hint_is_the_right_one(entry):
    name, kind, broken, twin, inputs, gradient, expected = entry
    report = run(kind, broken, inputs)
    assert not report.passed, name
    failed = [c.name.rpartition(".")[2] for c in report.failures()]
    if gradient is not None:
        assert gradient in failed, (name, failed)
    said = words(report)
    if expected is None:
        assert said == "", f"{name}: no hint is expected, but got: {said}"
    else:
        assert expected in said, f"{name}: expected '{expected}' in: {said}"
    for check in report.checks:  # a hint speaks about its own gradient, and only a failing one
        for hint in check.hints:
            assert hint.startswith(check.name) and not check.passed, (check.name, hint)


@pytest.mark.parametrize("entry", CATALOGUE, ids=IDS)
def test_the_correct_twin_passes_without_any_hint(entry):
    name, kind, broken, twin, inputs, gradient, expected = entry
    report = run(kind, twin, inputs)
    assert report.passed, (name, report.verdict())
    assert words(report) == "", (name, words(report))


def test_the_catalogue_is_large_enough_and_two_thirds_get_their_hint():
    assert len(CATALOGUE) >= 20
    hinted = [e for e in CATALOGUE if e[6] is not None]
    assert len(hinted) >= 2 * len(CATALOGUE) / 3, f"{len(hinted)} of {len(CATALOGUE)}"
    twins = {id(e[3]) if not isinstance(e[3], tuple) else tuple(map(id, e[3])) for e in CATALOGUE}
    assert len(twins) >= 10  # many different correct functions and layers, not one twin for all
