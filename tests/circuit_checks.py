"""Reading a circuit SVG back as a person sees it: text boxes, wires, gates (from the XML alone)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
ADVANCE = 0.6  # every monospace font the SVG names advances 0.6 em per character


def parse(svg_text: str) -> ET.Element:
    return ET.fromstring(svg_text.encode())


def text_box(element: ET.Element) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a <text> drawn in a monospace font."""
    size = float(element.get("font-size"))
    width = len(element.text or "") * ADVANCE * size
    x, y = float(element.get("x")), float(element.get("y"))
    anchor = element.get("text-anchor", "start")
    left = x - {"start": 0, "middle": width / 2, "end": width}[anchor]
    return left, y - 0.8 * size, left + width, y + 0.25 * size


def texts(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{NS}text"))


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def polyline_points(element: ET.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in element.get("points").split()]


def segments(root: ET.Element):
    """(wire id, (x1, y1), (x2, y2)) for every drawn segment of every wire."""
    for group in root.iter(f"{NS}g"):
        if "wire" not in group.get("class", "").split():
            continue
        for line in group.iter(f"{NS}polyline"):
            if line.get("class") == "hit":
                continue
            points = polyline_points(line)
            for a, b in zip(points, points[1:]):
                yield group.get("id"), a, b


def segment_hits_box(a, b, box, steps: int = 200) -> bool:
    left, top, right, bottom = box
    for i in range(steps + 1):
        t = i / steps
        x, y = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        if left < x < right and top < y < bottom:
            return True
    return False


def segments_cross(p1, p2, q1, q2) -> bool:
    """Proper crossing of two segments (touching ends do not count)."""

    def orient(a, b, c):
        v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        return 0 if abs(v) < 1e-6 else (1 if v > 0 else -1)

    o1, o2 = orient(p1, p2, q1), orient(p1, p2, q2)
    o3, o4 = orient(q1, q2, p1), orient(q1, q2, p2)
    return o1 * o2 < 0 and o3 * o4 < 0


def wires(root: ET.Element) -> dict[str, dict]:
    """{wire id: {'value': text, 'grad': text or None, 'source': id, 'class': ...}}."""
    found = {}
    for group in root.iter(f"{NS}g"):
        classes = group.get("class", "").split()
        if "wire" not in classes:
            continue
        value = [t.text for t in group.iter(f"{NS}text") if t.get("class") == "value"]
        grad = [t.text for t in group.iter(f"{NS}text") if t.get("class") == "grad"]
        found[group.get("id")] = {
            "value": value[0] if value else None,
            "grad": grad[0] if grad else None,
            "source": group.get("data-from"),
            "gate": group.get("data-gate"),
            "kind": classes[1] if len(classes) > 1 else "",
        }
    return found


def gates(root: ET.Element) -> dict[str, str]:
    """{gate element id: operation text}."""
    return {
        g.get("id"): next(t.text for t in g.iter(f"{NS}text"))
        for g in root.iter(f"{NS}g")
        if g.get("class") == "gate"
    }
