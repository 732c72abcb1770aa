"""Functions a reader can hold: every function and method of the scenegan package, from its
`def` to its last line (nested functions included, decorators not: a click command's options are
declarations, not code to follow), is under MAX_LINES lines, as the training loop is."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scenegan"
MAX_LINES = 80  # a function may span at most MAX_LINES - 1 lines


def function_lengths(path: Path) -> list[tuple[str, int, int]]:
    """(qualified name, `def` line, lines) of every function in a module, from its `def` to its
    last line."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}."
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = child.end_lineno - child.lineno + 1
                found.append((name[:-1], child.lineno, lines))
            visit(child, name)

    visit(ast.parse(path.read_text(), str(path)), "")
    return found


def test_every_function_is_under_the_limit():
    too_long = [
        f"{path.relative_to(PACKAGE.parent)}:{line} {name} ({lines} lines)"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name, line, lines in function_lengths(path)
        if lines >= MAX_LINES
    ]
    assert not too_long, f"split these into functions under {MAX_LINES} lines: " + "; ".join(
        too_long
    )


def test_the_measure_counts_from_def_with_nested_functions(tmp_path):
    module = tmp_path / "example.py"
    module.write_text(
        "import functools\n\n\n@functools.cache\ndef outer():\n    def inner():\n"
        "        return 1\n\n    return inner\n\n\nclass K:\n    def method(self):\n"
        "        pass\n"
    )
    assert function_lengths(module) == [("outer", 5, 5), ("outer.inner", 6, 2), ("K.method", 13, 2)]
