"""Render `bpcli show` (resolved spec + model table) and `bpcli schema`. No computation here."""

from __future__ import annotations

import json
from typing import Any

import yaml


def spec_yaml(spec: dict[str, Any]) -> str:
    """The resolved spec as YAML (block style, keys in spec order)."""
    return yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=100)


def render_show_json(summary) -> str:
    return json.dumps(summary.to_json(), indent=2)


def render_show_rich(summary, console) -> None:
    from rich.syntax import Syntax
    from rich.table import Table

    console.print(f"# resolved spec: {summary.source}", markup=False)
    text = spec_yaml(summary.spec)
    if console.is_terminal:
        console.print(Syntax(text, "yaml", background_color="default"))
    else:
        console.print(text.rstrip(), markup=False, highlight=False, soft_wrap=True)
    console.print()
    if not summary.layers:
        console.print(f"model summary unavailable: {summary.note}", markup=False)
        return
    graph = summary.model_form == "graph"
    table = Table(title=f"model: input {_shape(summary.input_shape)}, {summary.n_classes or '-'} classes",
                  title_justify="left")
    table.add_column("layer")
    table.add_column("type")
    if graph:
        table.add_column("in")
    table.add_column("output shape", justify="right")
    table.add_column("params", justify="right")
    for row in summary.layers:
        cells = [row.name, row.type] + ([", ".join(row.inputs)] if graph else [])
        table.add_row(*cells, _shape(row.output_shape), f"{row.params:,}")
    table.add_section()
    table.add_row("total", "", *([""] if graph else []), "", f"{summary.total_params:,}")
    console.print(table)


def _shape(shape) -> str:
    return "(N, " + ", ".join(str(d) for d in shape) + ")" if shape is not None else "?"


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2)
