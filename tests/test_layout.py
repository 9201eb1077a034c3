"""The package's import graph: no circles, no import from a lower layer to a higher one;
and test modules share code through conftest.py / helpers.py, never by importing each other.

The graph is read from the source with ``ast`` (nothing is imported), counting every import,
also those inside functions: a lazy import is still a dependency.
"""

import ast
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "nerbert_spacy"
TESTS = ROOT / "tests"

# Rooms (a sub-package, or a top-level module) by layer, lowest first. A module may import
# from its own layer or a lower one. ``nerbert_spacy`` is the package's __init__.
LAYERS = [
    # foundations: no knowledge of Wikipedia, DBpedia or models
    {"nerbert_spacy", "about", "errors", "util", "cache", "tiny", "bio", "docio"},
    {"wikipedia"},  # dump, wikitext, sentences: pages and anchors
    {"dbpedia"},  # ontology; types and infobox read titles the wikipedia way
    {"labels"},  # the 315 categories and their compressions, derived from the ontology
    {"mapping", "evaluation", "datasets"},  # label mapping, seqeval scoring, target-domain readers
    {"corpus"},  # the weak-label corpus build and balancing
    {"pipeline"},  # spaCy components, architectures, readers, callbacks
    {"calibration", "hf", "visualize", "export"},  # built on trained pipelines and Doc files
    {"grid"},  # experiment grids: datasets x evaluation x pipelines
    {"cli", "__main__"},  # the Typer app
]

# Imports that break the order and are accepted for now, as (importer, imported) module pairs,
# each with its reason. The test fails when a new one appears and when a listed one is gone.
KNOWN_VIOLATIONS: set = set()


# ---------------------------------------------------------------- the checker


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(tree: ast.AST):
    """Yield (node, lazy) for every import statement; ``lazy`` = inside a function."""

    def walk(node, lazy):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, lazy
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield from walk(child, inner)

    yield from walk(tree, False)


def _resolve(name: str, modules) -> str:
    """The longest known module that ``name`` lies in (``a.b.func`` -> ``a.b``)."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts)


def import_graph(package: Path):
    """RETURNS {module: {imported module: lazy?}} for the imports inside ``package``.
    ``lazy`` is True when every import of that target sits inside a function."""
    sources = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    modules = set(sources)
    top = package.name
    graph = {}
    for name, path in sources.items():
        is_pkg = path.name == "__init__.py"
        edges = {}
        for node, lazy in _imports(ast.parse(path.read_text(encoding="utf8"), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # ``from pkg import module`` depends on the module, ``from mod import func`` on mod
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
            for target in targets:
                if target.split(".")[0] != top:
                    continue
                resolved = _resolve(target, modules)
                if resolved and resolved != name:
                    edges[resolved] = edges.get(resolved, True) and lazy
        graph[name] = edges
    return graph


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def find_cycle(graph):
    """RETURNS one cycle as a list of nodes (first == last), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def layer_violations(graph, layers):
    """RETURNS sorted (importer, imported) pairs where the imported module's room is in a
    higher layer than the importer's."""
    rank = {r: i for i, rooms in enumerate(layers) for r in rooms}
    return sorted(
        (src, dst) for src, edges in graph.items() for dst in edges if rank[room(dst)] > rank[room(src)]
    )


def room_graph(graph):
    out = {}
    for src, edges in graph.items():
        for dst in edges:
            if room(src) != room(dst):
                out.setdefault(room(src), set()).add(room(dst))
    return out


# ---------------------------------------------------------------- the package


@pytest.fixture(scope="module")
def graph():
    return import_graph(PACKAGE)


def test_every_room_has_a_layer(graph):
    placed = set().union(*LAYERS)
    assert {room(m) for m in graph} - placed == set(), "add new rooms to LAYERS"
    assert sum(len(rooms) for rooms in LAYERS) == len(placed), "a room is in two layers"


def test_no_import_from_a_lower_layer_to_a_higher_one(graph):
    found = set(layer_violations(graph, LAYERS))
    assert found - KNOWN_VIOLATIONS == set(), "imports against the layer order"
    assert KNOWN_VIOLATIONS - found == set(), "fixed: remove these from KNOWN_VIOLATIONS"


def test_no_circles_between_rooms(graph):
    assert find_cycle(room_graph(graph)) is None


def test_no_circles_between_modules_at_import_time(graph):
    eager = {src: {dst for dst, lazy in edges.items() if not lazy} for src, edges in graph.items()}
    assert find_cycle(eager) is None


def test_the_graph_sees_every_form_of_import(tmp_path):
    """Guards the parser: absolute, relative, ``from pkg import module``, lazy, other packages."""
    pkg = tmp_path / "p"
    files = {
        "__init__.py": "from .errors import E\n",
        "errors.py": "import os\nclass E(Exception):\n    pass\n",
        "sub/__init__.py": "",
        "sub/a.py": "import p.errors\nfrom .. import util\nfrom . import b\n",
        "sub/b.py": "from ..errors import E\nfrom p.util import helper\ndef f():\n    from ..sub import a\n",
        "util.py": "import numpy\nfrom typing import List\ndef helper():\n    pass\n",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    assert import_graph(pkg) == {
        "p": {"p.errors": False},
        "p.errors": {},
        "p.sub": {},
        "p.sub.a": {"p.errors": False, "p.util": False, "p.sub.b": False},
        "p.sub.b": {"p.errors": False, "p.util": False, "p.sub.a": True},
        "p.util": {},
    }


# ---------------------------------------------------------------- the checker can fail


def test_an_upward_import_in_a_low_module_is_found(tmp_path):
    copy = tmp_path / "nerbert_spacy"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    bio = copy / "pipeline" / "bio.py"
    bio.write_text((bio.read_text(encoding="utf8") if bio.exists() else "") + "\nfrom ..cli import x\n")
    found = set(layer_violations(import_graph(copy), LAYERS)) - KNOWN_VIOLATIONS
    assert found == {("nerbert_spacy.pipeline.bio", "nerbert_spacy.cli")}
    # the same import inside a function counts too
    bio.write_text("def f():\n    from ..cli import x\n    return x\n")
    found = set(layer_violations(import_graph(copy), LAYERS)) - KNOWN_VIOLATIONS
    assert found == {("nerbert_spacy.pipeline.bio", "nerbert_spacy.cli")}


def test_checker_on_synthetic_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"y"}, "y": {"y2"}, "y2": {"y"}}) == ["y", "y2", "y"]
    graph = {"p.util": {}, "p.pipeline.bio": {"p.util": False, "p.cli.corpus": True}, "p.cli.corpus": {"p.util": False}}
    layers = [{"util"}, {"pipeline"}, {"cli"}]
    assert layer_violations(graph, layers) == [("p.pipeline.bio", "p.cli.corpus")]
    assert room_graph(graph) == {"pipeline": {"util", "cli"}, "cli": {"util"}}


# ---------------------------------------------------------------- tests import no tests


def imports_between_tests(folder: Path):
    """YIELDS (file, imported name) for each import of a test module or conftest by another file."""
    own = {p.stem for p in folder.glob("*.py")} - {"helpers"}
    for path in sorted(folder.glob("*.py")):
        for node, _ in _imports(ast.parse(path.read_text(encoding="utf8"), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name.split(".")[0] in own or name.startswith("tests."):
                    yield path.name, name


def test_no_test_module_imports_another(tmp_path):
    """Shared fixtures live in conftest.py, shared constants and builders in helpers.py."""
    assert list(imports_between_tests(TESTS)) == []
    (tmp_path / "helpers.py").write_text("X = 1\n")
    (tmp_path / "test_a.py").write_text("from helpers import X\nY = X\n")
    (tmp_path / "test_b.py").write_text("def test():\n    from test_a import Y\n    import conftest\n")
    (tmp_path / "conftest.py").write_text("")
    assert list(imports_between_tests(tmp_path)) == [("test_b.py", "test_a"), ("test_b.py", "conftest")]
