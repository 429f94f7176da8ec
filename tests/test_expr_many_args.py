"""max/min of many arguments stay linear: backward asks the gate for each input's local
gradient with the same argument list, and the winner is found once, not once per input."""

import pytest

from bpcli.expr.ops import OPS


class Counted(float):
    comparisons = 0

    def __gt__(self, other):
        Counted.comparisons += 1
        return float(self) > float(other)

    def __lt__(self, other):
        Counted.comparisons += 1
        return float(self) < float(other)


@pytest.mark.parametrize("name", ["max", "min"])
def test_the_local_gradients_of_max_and_min_of_n_inputs_take_about_n_comparisons(name):
    n = 3000
    args = [Counted((i * 7919) % 1009) for i in range(n)]
    out = max(args) if name == "max" else min(args)
    Counted.comparisons = 0
    locals_ = [OPS[name].local(i, args, out) for i in range(n)]
    assert Counted.comparisons <= 2 * n
    first = args.index(out)
    assert locals_ == [1.0 if i == first else 0.0 for i in range(n)]  # the whole gradient to the first winner


def test_trace_of_max_of_20000_arguments_routes_to_the_first_largest():
    from bpcli.expr import parse

    names = [f"x{i}" for i in range(50)]
    graph = parse("max(" + ", ".join(names[i % 50] for i in range(20000)) + ")")
    values = {name: float(i % 7) for i, name in enumerate(names)}
    value, grads = graph.gradients(values)
    assert value == 6.0
    assert grads["x6"] == 1.0 and sum(grads.values()) == 1.0
