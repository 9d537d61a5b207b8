"""The package's layers (../shared/DESIGN.md): each module imports only from its own layer or below, and the
modules import one another without a circle. Read from the source, so a new module must join LAYERS."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nmt"
# lowest first; a name ending in "/" stands for every module of that subpackage
LAYERS = [
    ("base", ["__init__", "fileio", "corpora", "config", "hardware", "console"]),
    ("text", ["text/"]),
    ("data", ["corpus", "mixture", "data", "split", "fetch", "lexicon", "augment"]),
    ("network", ["regroup", "dropout", "attention", "softmax", "model", "checkpoint", "shortlist"]),
    ("search", ["search/"]),
    ("fast decoding", ["fast/"]),
    ("pipeline", ["alignment", "rejoin", "sources", "document_pipeline", "pipeline", "evaluate"]),
    ("engines", ["ensemble", "translate", "export", "export_graphs", "lite/", "web/"]),
    ("training", ["training/"]),
    ("serving and tools", ["formatting", "document_io", "serving/", "plot"]),
    ("command line", ["cli", "cli_options", "cli_data", "cli_decode", "lite/cli", "__main__"]),
]


def _module(path: Path) -> str:
    return ".".join(("nmt", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")


def _layer(module: str) -> int:
    """A module's layer: the one that names it, else the one that names its subpackage."""
    rest = module.removeprefix("nmt").lstrip(".").replace(".", "/") or "__init__"
    for level, (_, names) in enumerate(LAYERS):
        if rest in names:
            return level
    for level, (_, names) in enumerate(LAYERS):
        if any(n.endswith("/") and (rest + "/").startswith(n) for n in names):
            return level
    raise AssertionError(f"{module} is in no layer of tests/test_layers.py: add it to LAYERS")


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    """The nmt modules a file imports (`from nmt import x` counts nmt.x when that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "nmt":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / (sub.replace(".", "/") + ".py")).is_file() or \
                    (PACKAGE.parent / sub.replace(".", "/")).is_dir()
                found.add(sub if is_module else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "nmt"}
    return found


def test_every_module_imports_only_its_own_layer_or_below():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module(path)
        # the package's own __init__ hands out the Python API (Translator) lazily: only its top level counts
        for imported in _imports(path, top_level_only=module == "nmt"):
            if _layer(imported) > _layer(module):
                wrong.append(f"{module} ({LAYERS[_layer(module)][0]}) imports {imported} "
                             f"({LAYERS[_layer(imported)][0]})")
    assert not wrong, "\n".join(wrong)


def test_the_network_imports_nothing_from_the_fast_floor():
    for name in ("model", "attention", "softmax"):
        assert not {m for m in _imports(PACKAGE / f"{name}.py") if m.startswith("nmt.fast")}, name


def test_no_import_circle():
    graph = {_module(p): {m for m in _imports(p, top_level_only=True) if m != "nmt"}
             for p in PACKAGE.rglob("*.py")}
    done, path = set(), []

    def visit(module: str) -> None:
        assert module not in path, " -> ".join([*path[path.index(module):], module])
        if module in done:
            return
        path.append(module)
        for imported in graph.get(module, ()):
            visit(imported)
        path.pop()
        done.add(module)

    for module in graph:
        visit(module)


def test_text_and_its_pipeline_import_no_torch():
    """nmt/text/, the search strategies and the text pipeline are torch-free: they import nothing that
    imports torch (nmt.lite decodes with them)."""
    import subprocess
    import sys
    modules = [_module(p) for p in sorted((PACKAGE / "text").glob("*.py"))]
    modules += ["nmt.pipeline", "nmt.sources", "nmt.document_pipeline", "nmt.alignment", "nmt.formatting",
                "nmt.search.constraints", "nmt.search.repeats", "nmt.search.scoring", "nmt.search.attended",
                "nmt.lite.translator"]
    code = f"import sys; import {', '.join(modules)}; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
