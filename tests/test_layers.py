"""The layers of the package hold (docs/layout.md): no module imports one of a higher layer, no
modules import each other in a circle, and only the commands' runners import a module of a
click command. Imports inside functions count as much as those at the top.

Run alone: `python -m pytest tests/test_layers.py` (.ci/run runs it with the rest, after ruff).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scenegan"

# Lowest first. A module may import modules of its own layer and of the layers below it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("scenegan", "scenegan.errors", "scenegan.clip_format", "scenegan.archs")),
    ("utilities", ("scenegan.files", "scenegan.animation_files", "scenegan.limits")),
    ("config", ("scenegan.config",)),
    ("pipeline", ("scenegan.pipeline",)),
    ("model", ("scenegan.model",)),
    ("commands", ("scenegan.evaluation", "scenegan.serve", "scenegan.serve_limits")),
    # stand-ins for the demo and the tests: nothing of the pipeline or the model uses them
    ("demo", ("scenegan.testing", "scenegan.demo")),
    ("cli", ("scenegan.cli",)),
]
# The modules that run commands: only they may import a module that imports click (a command's
# own module, such as model/sample.py, which prints with click).
COMMAND_RUNNERS = {"scenegan.cli", "scenegan.demo"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str, root: Path) -> set[str]:
    """The package's modules `path` imports (`from a.b import c` is a.b.c where c is a
    module)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..a import b
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base]
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if (root.parent / Path(*sub.split("."))).with_suffix(".py").is_file() or (
                    root.parent / Path(*sub.split(".")) / "__init__.py"
                ).is_file():
                    targets.append(sub)
        else:
            continue
        found.update(t for t in targets if t == root.name or t.startswith(root.name + "."))
    found.discard(name)
    return found


def layer_of(module: str) -> int | None:
    """The index of the layer holding `module` (its longest matching prefix; the package
    itself, `scenegan`, holds only its own __init__)."""
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = "." in prefix and module.startswith(prefix + ".")
            if module == prefix or inside:
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    return None if best is None else best[0]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def problems(root: Path = PACKAGE) -> list[str]:
    """Every broken rule of the package at `root`, one line each."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph = {name: imported_modules(path, name, root) for name, path in files.items()}
    found = []
    for name in files:
        if layer_of(name) is None:
            found.append(f"{name} is in no layer: add it to LAYERS in tests/test_layers.py")
    commands = {name for name, path in files.items() if "click" in _top_names(path)}
    for name, targets in sorted(graph.items()):
        for target in sorted(targets):
            mine, theirs = layer_of(name), layer_of(target)
            if mine is not None and theirs is not None and theirs > mine:
                found.append(
                    f"{name} ({LAYERS[mine][0]}) imports {target}, a layer above "
                    f"({LAYERS[theirs][0]})"
                )
            if target in commands and name not in COMMAND_RUNNERS:
                found.append(f"{name} imports {target}, a click command's module")
    for component in circles(graph):
        found.append(f"import circle: {' <-> '.join(component)}")
    return found


def _top_names(path: Path) -> set[str]:
    """The top-level names of what a file imports (`click` for `import click` or `from click
    import echo`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_layers_hold():
    assert problems() == []


def test_the_check_sees_an_upward_import_a_circle_and_a_command_import(tmp_path):
    """The same check on a small made-up package: each kind of mistake is one line."""
    root = tmp_path / "scenegan"
    files = {
        "__init__.py": "",
        "errors.py": "",
        "config.py": "from scenegan.model.networks import build\n",  # upward
        "serve.py": "def run():\n    from scenegan.model import sample\n",  # a command's module
        "model/__init__.py": "",
        "model/networks.py": "import scenegan.model.steps\nbuild = 1\n",
        "model/steps.py": "from scenegan.model.networks import build\n",  # a circle
        "model/sample.py": "import click\n",
        "extra.py": "",  # in no layer
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    assert problems(root) == [
        "scenegan.extra is in no layer: add it to LAYERS in tests/test_layers.py",
        "scenegan.config (config) imports scenegan.model.networks, a layer above (model)",
        "scenegan.serve imports scenegan.model.sample, a click command's module",
        "import circle: scenegan.model.networks <-> scenegan.model.steps",
    ]
