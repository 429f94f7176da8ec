"""What `bpcli export` and `bpcli import` print: the files written, as text or JSON."""

from __future__ import annotations

import json
from pathlib import Path


def render_export(weights: Path, json_path: Path, fmt: str, console) -> None:
    if fmt == "json":
        print(json.dumps({"weights": str(weights), "architecture": str(json_path)}))
        return
    console.print(f"weights written to {weights}", markup=False, highlight=False)
    console.print(f"architecture written to {json_path}", markup=False, highlight=False)


def render_import(result: dict, fmt: str, console) -> None:
    if fmt == "json":
        print(json.dumps(result))
        return
    console.print(f"{result['tensors']} tensors ({result['names']} names) loaded; checkpoint written to "
                  f"{result['checkpoint']}", markup=False, highlight=False)
    console.print(f"use it: bpcli evaluate {result['checkpoint']}", markup=False, highlight=False)
