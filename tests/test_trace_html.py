"""`bpcli trace --export trace.html` loaded in a real headless Chromium (skipped without it,
failed without it under CI): no console error, no network request, stepping reaches every gate."""

from __future__ import annotations

import json

import pytest
from chromium import Page, find_chromium
from typer.testing import CliRunner

from bpcli.cli import app

pytestmark = pytest.mark.slow  # a browser per test: seconds each

NEURON = ["1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]


@pytest.fixture(scope="module")
def chromium():
    return find_chromium()


def export_page(tmp_path, args) -> object:
    target = tmp_path / "trace.html"
    result = CliRunner().invoke(app, ["trace", *args, "--export", str(target), "--format", "json"])
    assert result.exit_code == 0, result.output
    return target


def test_the_harness_sees_console_errors_and_network_requests(chromium, tmp_path):
    page_file = tmp_path / "bad.html"
    page_file.write_text(
        "<html><body><img src='http://192.0.2.1/x.png'><script>console.error('boom');</script>"
        "</body></html>"
    )
    with Page(page_file) as page:
        page.settle()
        assert page.console_errors and any("192.0.2.1" in url for url in page.requests)


@pytest.mark.parametrize(
    "args",
    [NEURON, ["x*x*y", "x=3", "y=2"], ["sigmoid(w*x+b)", "--expand"],
     ["W2@max(0, W1@x)", "W1=randn(4,3)", "W2=randn(2,4)", "x=randn(3)"]],
    ids=["neuron", "fork", "expand", "tensor"],
)
def test_stepping_reaches_every_gate_without_errors_or_requests(chromium, tmp_path, args):
    path = export_page(tmp_path, args)
    with Page(path) as page:
        gates = page.evaluate("Array.from(document.querySelectorAll('.gate')).map(g => g.id)")
        steps = page.evaluate("JSON.parse(document.getElementById('trace-data').textContent).steps.length")
        hidden = "document.querySelectorAll('.wire .grad.pending').length"
        assert page.evaluate(hidden) > 0  # before stepping only the output's gradient shows
        seen = []
        for _ in range(steps):
            page.evaluate("document.getElementById('next').click()")
            seen.append(page.evaluate("(document.querySelector('.gate.current') || {}).id"))
        assert set(seen) == set(gates) and len(seen) == len(gates)
        assert page.evaluate(hidden) == 0  # every wire shows its gradient at the end
        assert page.evaluate("document.getElementById('next').disabled") is True
        page.evaluate("document.getElementById('reset').click()")
        assert page.evaluate("document.querySelector('.gate.current')") is None
        page.settle()
        assert page.console_errors == [] and page.requests == []


def test_gradients_appear_in_backward_order_and_forks_add(chromium, tmp_path):
    path = export_page(tmp_path, ["x*x*y", "x=3", "y=2"])
    with Page(path) as page:
        trunk = "document.querySelector('.wire.trunk .grad')"
        assert page.evaluate(f"{trunk}.classList.contains('pending')") is True
        page.evaluate("document.getElementById('next').click()")  # the outer *: x*x gets 2, y gets 9
        assert page.evaluate(f"{trunk}.classList.contains('pending')") is True
        page.evaluate("document.getElementById('next').click()")  # x*x: each x gets 2·3 = 6, 6+6 = 12
        assert page.evaluate(f"{trunk}.classList.contains('pending')") is False
        assert page.evaluate(f"{trunk}.textContent") == "12"
        assert "step 2 of 2" in page.evaluate("document.getElementById('status').textContent")


def test_hovering_a_wire_shows_upstream_times_local_equals_downstream(chromium, tmp_path):
    path = export_page(tmp_path, NEURON)
    with Page(path) as page:
        point = json.loads(page.evaluate("""(() => {
            const line = document.querySelector('.wire[data-from="w0"] .hit');
            const p = line.points, n = p.numberOfItems;
            const svg = document.getElementById('circuit').createSVGPoint();
            svg.x = (p.getItem(n - 2).x + p.getItem(n - 1).x) / 2;
            svg.y = (p.getItem(n - 2).y + p.getItem(n - 1).y) / 2;
            const screen = svg.matrixTransform(line.getScreenCTM());
            return JSON.stringify({x: screen.x, y: screen.y});
        })()"""))
        page.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": point["x"], "y": point["y"]})
        text = page.evaluate("document.getElementById('tip').textContent")
        shown = page.evaluate("getComputedStyle(document.getElementById('tip')).display")
        assert shown == "block"
        assert text == "upstream × local = downstream: 0.20 × -1 = -0.20"  # ∂(w0·x0)/∂w0 = x0
