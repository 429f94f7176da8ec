"""The library knows nothing of the CLI: no module of bpcli/ outside commands/, render/ and
cli.py imports rich or typer (at the top or inside a function), and `bpcli.trace(...)` still
shows as the CLI's output through bpcli/render/."""

import ast
from pathlib import Path

import bpcli

PACKAGE = Path(bpcli.__file__).parent
CLI_SIDE = ("commands", "render")
CLI_LIBRARIES = {"rich", "typer"}


def _imported_roots(path: Path) -> set:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_library_module_imports_rich_or_typer():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in CLI_SIDE or relative.name == "cli.py":
            continue
        found = _imported_roots(path) & CLI_LIBRARIES
        if found:
            offenders.append(f"{relative}: {', '.join(sorted(found))}")
    assert offenders == []


def test_the_checker_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from rich.console import Console\n    import typer.main\n")
    assert _imported_roots(module) == {"rich", "typer"}


def test_a_traced_expression_still_shows_as_the_cli_prints_it():
    shown = bpcli.trace("(x+y)*z", x=-2, y=5, z=-4)
    text = repr(shown)
    assert "-12" in text  # f = (−2 + 5)·(−4)
    assert "<pre" in shown._repr_html_() and "-12" in shown._repr_html_()
