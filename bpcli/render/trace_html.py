"""`bpcli trace --export trace.html`: one self-contained page (no network request) with the
circuit, the forward and backward tables, and the backward pass to step through one gate at a
time. Hovering a wire shows its step's upstream × local = downstream.

Everything shown is text formatted here from the TraceReport; the page's script only shows and
hides it.
"""

from __future__ import annotations

import json
from html import escape

from bpcli.expr.report import TraceReport
from bpcli.render.circuit import layout_circuit, product_text, step_note, tensor_text, trace_parts
from bpcli.render.circuit_svg import FONT, GRAD_COLOR, VALUE_COLOR, svg_elements
from bpcli.render.trace_numbers import local_formula, num

STYLE = f"""
body {{ font-family: {FONT}; background: #ffffff; color: #222; margin: 24px; }}
h1 {{ font-size: 18px; font-weight: normal; }}
#controls {{ margin: 8px 0; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }}
button {{ font: inherit; padding: 4px 12px; }}
#status {{ margin-left: 12px; }}
#circuit {{ width: 100%; max-width: 1400px; height: auto; border: 1px solid #ddd; }}
.wire .grad.pending {{ visibility: hidden; }}
.wire:hover polyline:not(.hit) {{ stroke: #ff8f00; stroke-width: 3; }}
.wire.sent polyline:not(.hit) {{ stroke: {GRAD_COLOR}; stroke-width: 2.6; }}
.gate.current circle {{ stroke: {GRAD_COLOR}; stroke-width: 4; }}
#tip {{ position: fixed; display: none; background: #fffde7; border: 1px solid #bbb;
        padding: 4px 8px; font-size: 13px; pointer-events: none; }}
table {{ border-collapse: collapse; margin: 8px 0 20px 0; font-size: 13px; }}
th, td {{ padding: 2px 10px; text-align: left; border-bottom: 1px solid #eee; }}
td.num {{ text-align: right; }}
tr.current td {{ background: #ffebee; }}
tr.done td {{ color: #555; }}
.value {{ color: {VALUE_COLOR}; }}
.grad {{ color: {GRAD_COLOR}; }}
"""

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('trace-data').textContent);
  var steps = data.steps, at = 0;
  var status = document.getElementById('status');
  function show() {
    document.querySelectorAll('.wire[data-step]').forEach(function (w) {
      var done = Number(w.dataset.step) < at;
      w.querySelector('.grad').classList.toggle('pending', !done);
      w.classList.toggle('sent', Number(w.dataset.step) === at - 1);
    });
    Object.keys(data.trunks).forEach(function (id) {
      var text = null;
      data.trunks[id].forEach(function (pair) { if (pair[0] < at) { text = pair[1]; } });
      var label = document.querySelector('#' + id + ' .grad');
      if (!label) { return; }
      label.classList.toggle('pending', text === null);
      if (text !== null) { label.textContent = text; }
    });
    document.querySelectorAll('.gate').forEach(function (g) { g.classList.remove('current'); });
    document.querySelectorAll('tr[data-step]').forEach(function (row) {
      var k = Number(row.dataset.step);
      row.classList.toggle('current', k === at - 1);
      row.classList.toggle('done', k < at - 1);
    });
    if (at > 0) {
      var gate = document.getElementById('gate-' + steps[at - 1].gate);
      if (gate) { gate.classList.add('current'); }
      status.textContent = 'step ' + at + ' of ' + steps.length + ': ' + steps[at - 1].text;
    } else {
      status.textContent = 'step 0 of ' + steps.length + ': ' + data.start;
    }
    document.getElementById('back').disabled = at === 0;
    document.getElementById('next').disabled = at === steps.length;
  }
  function go(k) { at = Math.max(0, Math.min(steps.length, k)); show(); }
  document.getElementById('reset').addEventListener('click', function () { go(0); });
  document.getElementById('back').addEventListener('click', function () { go(at - 1); });
  document.getElementById('next').addEventListener('click', function () { go(at + 1); });
  document.getElementById('all').addEventListener('click', function () { go(steps.length); });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowRight') { go(at + 1); }
    if (e.key === 'ArrowLeft') { go(at - 1); }
  });
  var tip = document.getElementById('tip');
  document.querySelectorAll('.wire').forEach(function (w) {
    w.addEventListener('mouseenter', function () {
      tip.textContent = w.dataset.note; tip.style.display = 'block';
    });
    w.addEventListener('mousemove', function (e) {
      tip.style.left = (e.clientX + 14) + 'px'; tip.style.top = (e.clientY + 14) + 'px';
    });
    w.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  });
  show();
})();
"""


def _row(cells: list[str], attrs: str = "", header: bool = False) -> str:
    tag = "th" if header else "td"
    body = "".join(
        f'<{tag} class="num">{escape(c[1:])}</{tag}>' if c.startswith("\0") else f"<{tag}>{escape(c)}</{tag}>"
        for c in cells
    )
    return f"<tr{attrs}>{body}</tr>"


def _right(text: str) -> str:
    return "\0" + text


def _tables(report: TraceReport, text) -> str:
    graph = report.graph
    values, grads, steps = trace_parts(report)
    forward = [_row(["node", "gate", "inputs", "value"], header=True)]
    for node in graph.nodes:
        inputs = ", ".join(graph.label(i) for i in node.inputs)
        gate = "input" if node.op == "var" else ("constant" if node.op == "const" else graph.gate_label(node.id))
        forward.append(_row([graph.label(node.id), gate, inputs, _right(text(values[node.id]))]))
    tensor = getattr(report, "tensor", False)
    local_heading = "vector-Jacobian product" if tensor else "local gradient"
    backward = [_row(["step", "gate", "upstream", "to", local_heading, "sent down",
                      "input's gradient"], header=True)]
    for k, step in enumerate(steps):
        for sent in step.inputs:
            total = f"+= → {text(sent.total)}" if sent.accumulated else text(sent.total)
            if hasattr(sent, "local"):
                up, local, down = product_text(step.upstream, sent.local, sent.sent, text)
                formula = f"{local_formula(graph, step.node, sent)} = {local}"
                product = f"{up} × {local} = {down}"
            else:  # a tensor gate: its vector-Jacobian product
                up, formula, product = text(step.upstream), sent.formula, text(sent.sent)
            backward.append(_row(
                [str(k + 1), f"{graph.label(step.node)} {graph.gate_label(step.node)}", _right(up),
                 graph.label(sent.node), formula, _right(product), _right(total)],
                f' data-step="{k}"',
            ))
    gradients = [_row(["variable", "value", "gradient"], header=True)]
    gradients_of = report.gradients if tensor else report.trace.gradients
    for name, grad in gradients_of.items():
        gradients.append(_row([name, _right(text(report.inputs[name])), _right(text(grad))]))
    heading = ("each input gets the vector-Jacobian product of the upstream gradient" if tensor
               else "sent down = upstream × local gradient")
    return (
        "<h2>Forward pass</h2><table>" + "".join(forward) + "</table>"
        f"<h2>Backward pass: {heading}</h2><table id=\"backward\">"
        + "".join(backward) + "</table>"
        "<h2>Gradients</h2><table>" + "".join(gradients) + "</table>"
    )


def render_html(report: TraceReport) -> str:
    graph = report.graph
    values, grads, trace_steps = trace_parts(report)
    text = tensor_text if getattr(report, "tensor", False) else num
    circuit = layout_circuit(report, title="", aspect=None)
    steps = []
    for step in trace_steps:
        sends = "; ".join(
            f"{graph.label(s.node)}: {step_note(step, s, text).split(': ', 1)[1]}" for s in step.inputs
        ) or "its inputs are constants"
        steps.append({
            "gate": step.node,
            "text": f"gate {graph.label(step.node)} ({graph.gate_label(step.node)}), upstream "
                    f"{text(step.upstream)}: {sends}",
        })
    trunks: dict[str, list] = {}
    for wire in circuit.wires:
        if wire.kind == "trunk":
            trunks[wire.id] = [
                [k, text(s.total)] for k, step in enumerate(trace_steps) for s in step.inputs
                if s.node == wire.source
            ]
    data = {"steps": steps, "trunks": trunks,
            "start": f"the output's gradient (upstream of f) is {text(grads[graph.output])}"}
    payload = json.dumps(data).replace("</", "<\\/")
    svg = (
        f'<svg id="circuit" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {circuit.width:.1f} '
        f'{circuit.height:.1f}" font-family="{FONT}">' + "\n".join(svg_elements(circuit, hit_width=14))
        + "</svg>"
    )
    title = escape(f"bpcli trace: f = {report.expression[:200]}")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape('f = ' + report.expression[:500])}</h1>"
        "<div id=\"controls\"><button id=\"reset\">|◀ reset</button><button id=\"back\">◀ back</button>"
        "<button id=\"next\">step ▶</button><button id=\"all\">all ▶|</button>"
        "<span id=\"status\"></span></div>"
        f"{svg}<div id=\"tip\"></div>{_tables(report, text)}"
        f"<script type=\"application/json\" id=\"trace-data\">{payload}</script>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
