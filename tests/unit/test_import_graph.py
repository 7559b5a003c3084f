"""The import graph of src/tunewise: no cycles between modules or between rooms (packages and top-level modules),
and imports run one way, from the CLI down to the shared sections (docs/architecture.md draws the layers).

Every `import tunewise...` counts, at module level or inside a function; only imports under `if TYPE_CHECKING:`
(type annotations, never executed) are left out. Run alone: `pytest tests/unit/test_import_graph.py`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import tunewise

SRC = Path(tunewise.__file__).parent

# Rooms from the top of the import order to the bottom: a room may import rooms in its own layer or below.
LAYERS = [
    ["cli"],
    ["api"],
    ["tune", "init_config", "standalone", "serve", "export", "config_doc"],
    ["ladder"],
    ["report", "tracking", "registry"],
    ["config"],
    ["methods"],
    ["prompting", "rag"],
    ["evaluate", "train"],
    ["models", "data"],
    ["task", "records", "sections", "question_sets", "errors", "io", "progress", "distributed", "home", "hub_kernels",
     "judge", "tunewise"],
]
LAYER = {room: depth for depth, rooms in enumerate(LAYERS) for room in rooms}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    """tunewise.ladder.run -> ladder; tunewise.config -> config; tunewise -> tunewise (the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _type_checking_only(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports(path: Path, modules: set[str]) -> set[str]:
    """The tunewise modules `path` imports (a `from package import name` of a submodule counts as that module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                     for a in node.names]
        else:
            continue
        if _type_checking_only(node, parents):
            continue
        found |= {n for n in names if n.split(".")[0] == "tunewise"}
    return found - {module_name(path)}


def graph() -> dict[str, set[str]]:
    paths = sorted(SRC.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    edges = {module_name(p): imports(p, modules) for p in paths}
    # The package itself only re-exports the public API on first attribute access (module __getattr__); what it
    # holds for the rest of the code (__version__) is at the bottom.
    edges["tunewise"] = set()
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by depth-first search (each reported once, from its first node met)."""
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_no_module_imports_another_in_a_cycle():
    assert cycles(graph()) == []


def test_no_cycle_between_rooms():
    rooms: dict[str, set[str]] = {}
    for module, targets in graph().items():
        rooms.setdefault(room(module), set()).update(room(t) for t in targets if room(t) != room(module))
    assert cycles(rooms) == []


def test_every_room_has_a_layer_and_imports_only_its_layer_or_below():
    upward = []
    for module, targets in graph().items():
        assert room(module) in LAYER, f"{module}: room {room(module)} is not in LAYERS"
        upward += [f"{module} -> {t}" for t in sorted(targets) if LAYER[room(t)] < LAYER[room(module)]]
    assert upward == []


def test_the_cycle_finder_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
