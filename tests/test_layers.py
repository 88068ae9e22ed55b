"""The package's rooms and their order: no module imports a layer above its own, no cycles.

Layers, lowest first (a module may import its own layer and those below it):

    base         config, settings, device, data, pictures   (constants, datasets, helpers)
    recognition  a drawing -> the model's answer
    numbers      a drawing of a whole number -> its digits, each read as a lone digit
    samples      made-up inputs built from the data and preprocessing
    training     the options, the one loop, evaluation, fine-tuning
    teaching     views of a model and its mistakes
    honesty      thresholds chosen on validation, held-out reports
    classroom    a class's drawings and runs in a database, the board's figures, exports
    serving      what the app keeps for visitors, without Gradio
    ui           the Gradio app: the only layer that imports gradio ...
    bench        ... but for the benchmarks that drive the app (api, browser)
    cli          the command line

Imports inside functions count too: a lazy import still ties two rooms together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "mnist_demo"
BASE = ("config", "settings", "device", "data", "pictures")
LAYERS = (
    "base",
    "recognition",
    "numbers",
    "samples",
    "training",
    "teaching",
    "honesty",
    "classroom",
    "serving",
    "ui",
    "bench",
    "cli",
    "facade",  # mnist_demo/__init__.py and __main__.py: the public names and `python -m`.
)
# Benchmarks that launch the app and drive it through its HTTP API or a browser.
APP_BENCHMARKS = {"mnist_demo.bench.api", "mnist_demo.bench.browser", "mnist_demo.bench.classroom"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "facade"
    return "base" if parts[1] in BASE else parts[1]


def imports_of(module: str) -> list[tuple[str, bool]]:
    """(imported name, whether at module level) for every import statement in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                # "from mnist_demo.x import y" imports the module mnist_demo.x.y when there is one.
                found.append((child if child in MODULES else node.module, id(node) in top_level))
    return found


def project_edges(module: str) -> list[tuple[str, bool]]:
    return [(name, top) for name, top in imports_of(module) if name in MODULES]


def test_every_module_belongs_to_a_known_layer():
    assert {layer_of(module) for module in MODULES} <= set(LAYERS)


def test_the_top_level_holds_only_the_base_modules():
    top = sorted(path.stem for path in PACKAGE.glob("*.py") if not path.stem.startswith("__"))
    assert top == sorted(BASE)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_layer_above_its_own(module):
    rank = LAYERS.index(layer_of(module))
    upward = [name for name, _ in project_edges(module) if LAYERS.index(layer_of(name)) > rank]
    assert upward == []


def test_the_import_graph_has_no_cycle():
    graph = {module: {name for name, _ in project_edges(module)} for module in MODULES}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for name in sorted(graph[module]):
            if state.get(name) == "open":
                cycle = path[path.index(name) :] + [name]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if name not in state:
                visit(name, [*path, name])
        state[module] = "done"

    for module in MODULES:
        if module not in state:
            visit(module, [module])


def test_only_the_ui_and_the_app_benchmarks_import_gradio():
    offenders = [
        module
        for module in MODULES
        if layer_of(module) != "ui"
        and module not in APP_BENCHMARKS
        and any(name.split(".")[0] in ("gradio", "gradio_client") for name, _ in imports_of(module))
    ]
    assert offenders == []


def test_the_cli_reaches_the_app_only_through_a_lazy_benchmark_import():
    for module in MODULES:
        if layer_of(module) != "cli":
            continue
        for name, top_level in project_edges(module):
            assert layer_of(name) != "ui", f"{module} imports {name}"
            if name in APP_BENCHMARKS:
                assert not top_level, f"{module} imports {name} at module level"


def test_the_serving_layer_runs_without_gradio():
    for module in MODULES:
        if layer_of(module) == "serving":
            assert all(not name.startswith("gradio") for name, _ in imports_of(module)), module
