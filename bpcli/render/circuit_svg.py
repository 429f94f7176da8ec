"""`bpcli trace --export circuit.svg`: the lecture's circuit as one self-contained SVG.

Light background, generic font families (nothing fetched), values green above each wire and
gradients red below. Draws a laid-out Circuit (bpcli.render.circuit); computes nothing.
"""

from __future__ import annotations

from typing import Optional
from xml.sax.saxutils import escape, quoteattr

from bpcli.render.circuit import Circuit, Label

FONT = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"
VALUE_COLOR = "#1b7a1b"
GRAD_COLOR = "#c62828"
WIRE_COLOR = "#37474f"
GATE_FILL = "#fffdf5"
BACKGROUND = "#ffffff"
TEXT_COLOR = "#222222"

COLORS = {"value": VALUE_COLOR, "grad": GRAD_COLOR, "fork": GRAD_COLOR, "op": TEXT_COLOR,
          "name": TEXT_COLOR, "title": "#455a64", "legend-value": VALUE_COLOR,
          "legend-grad": GRAD_COLOR}


def _f(x: float) -> str:
    return f"{x:.1f}"


def text_element(label: Label, extra: str = "") -> str:
    weight = ' font-weight="bold"' if label.kind in ("op", "name") else ""
    return (
        f'<text class="{label.kind}" x="{_f(label.x)}" y="{_f(label.y)}" font-size="{label.size:g}" '
        f'text-anchor="{label.anchor}" fill="{COLORS[label.kind]}"{weight}{extra}>'
        f"{escape(label.text)}</text>"
    )


def svg_elements(circuit: Circuit, hit_width: Optional[float] = None) -> list[str]:
    """The drawing's elements (without the <svg> root), shared by the SVG and HTML writers.
    `hit_width`: also draw a wide transparent stroke per wire (a hover target in the page)."""
    parts = [f'<rect class="background" width="100%" height="100%" fill="{BACKGROUND}"/>']
    for wire in circuit.wires:
        points = " ".join(f"{_f(x)},{_f(y)}" for x, y in wire.points)
        step = f' data-step="{wire.step}"' if wire.step is not None else ""
        parts.append(
            f'<g class="wire {wire.kind}" id="{wire.id}" data-source="{wire.source}"'
            f" data-from={quoteattr(wire.source_name)}"
            f'{"" if wire.gate is None else f" data-gate={quoteattr(str(wire.gate))}"}{step}'
            f" data-note={quoteattr(wire.note)}>"
        )
        parts.append(f"<title>{escape(wire.note)}</title>")
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{WIRE_COLOR}" stroke-width="1.6" '
            'stroke-linejoin="round"/>'
        )
        if hit_width:
            parts.append(
                f'<polyline class="hit" points="{points}" fill="none" stroke="transparent" '
                f'stroke-width="{hit_width:g}"/>'
            )
        for label in (wire.value, wire.grad):
            if label is not None:
                parts.append(text_element(label))
        parts.append("</g>")
    for x, y, label in circuit.forks:
        parts.append(f'<circle class="fork-dot" cx="{_f(x)}" cy="{_f(y)}" r="3.2" fill="{WIRE_COLOR}"/>')
        parts.append(text_element(label))
    for gate in circuit.gates:
        parts.append(
            f'<g class="gate" id="gate-{gate.node}"><circle cx="{_f(gate.x)}" cy="{_f(gate.y)}" '
            f'r="{_f(gate.r)}" fill="{GATE_FILL}" stroke="{WIRE_COLOR}" stroke-width="1.8"/>'
            f"{text_element(gate.label)}</g>"
        )
    for label in circuit.names:
        parts.append(text_element(label))
    for label in circuit.notes:
        parts.append(text_element(label))
    return parts


def render_svg(circuit: Circuit) -> str:
    """A standalone SVG document (sized in px for a 16:9 slide, scalable through its viewBox)."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(circuit.width)} {_f(circuit.height)}" '
        f'width="{_f(circuit.width)}" height="{_f(circuit.height)}" font-family="{FONT}">'
    )
    return head + "\n" + "\n".join(svg_elements(circuit)) + "\n</svg>\n"
