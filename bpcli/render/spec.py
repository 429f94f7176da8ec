"""Render `bpcli show` (resolved spec + model table) and `bpcli schema`. No computation here."""

from __future__ import annotations

import json
from typing import Any

import yaml


YAML_WIDTH = 96  # the resolved spec fits a 100-column terminal or pipe


def spec_yaml(spec: dict[str, Any], width: int = YAML_WIDTH) -> str:
    """The resolved spec as YAML, keys in spec order: leaf mappings in flow style
    (`data: {type: spiral, ...}`, wrapped) when every line fits `width` columns, else that
    section in block style."""
    parts = []
    for key, value in spec.items():
        nested = isinstance(value, (dict, list))  # a lone scalar would come out as `{seed: 0}`
        # PyYAML breaks a flow line only once it is past `width`, so aim below it
        text = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=None if nested else False,
                              width=max(width * 5 // 6, 20))
        if max(len(line) for line in text.splitlines()) > width:
            text = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=width)
        parts.append(text)
    return "".join(parts)


def render_show_json(summary) -> str:
    return json.dumps(summary.to_json(), indent=2)


def render_show_rich(summary, console) -> None:
    from rich import box
    from rich.syntax import Syntax
    from rich.table import Table

    from bpcli.render.fit import fit_table

    console.print(f"# resolved spec: {summary.source}", markup=False, soft_wrap=True)  # one line: a YAML comment
    text = spec_yaml(summary.spec, min(YAML_WIDTH, console.width - 1))
    if console.is_terminal:
        console.print(Syntax(text, "yaml", background_color="default"))
    else:
        console.print(text.rstrip(), markup=False, highlight=False, soft_wrap=True)
    console.print()
    if not summary.layers:
        console.print(f"model: layer shapes unknown: {summary.note}", markup=False)
        return
    graph = summary.model_form == "graph"
    table = Table(title=f"model: input {_shape(summary.input_shape)}, {summary.n_classes or '-'} classes",
                  title_justify="left", box=box.SIMPLE_HEAD)
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
    console.print(fit_table(table, console.width))


def _shape(shape) -> str:
    return "(N, " + ", ".join(str(d) for d in shape) + ")" if shape is not None else "?"


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2)
