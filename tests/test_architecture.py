"""Architecture rules (issue 10), checked on the source: imports are parsed with ``ast``.

1. No import cycle between modules. Every import counts: module level, function level and
   ``if TYPE_CHECKING:``. ``from pkg import name`` is an edge to ``pkg.name`` when that is a
   module, else to ``pkg``; a package's ``__init__`` is not an implicit dependency of its
   submodules (it is when imported by name).
2. Layers: a module never imports a module of a higher layer (``LAYERS``, lowest first).
3. Only the CLI touches the terminal: nothing outside ``mm_agent.cli`` imports ``mm_agent.cli``,
   ``click`` or ``prompt_toolkit``.
4. Library code (all but ``mm_agent.cli``) never calls ``print`` or ``sys.exit`` and never
   raises ``SystemExit``.

``python tests/test_architecture.py`` prints every finding.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Source folder → import name (pyproject's package-dir).
PACKAGE_ROOTS = {"mm_agent": "mm_agent", "cli": "mm_agent.cli", "toolkits": "mm_agent.toolkits"}

# Lowest first. A module's layer is its longest matching entry; "=name" matches only that module.
# A module may import its own layer and lower ones; cycles inside a layer are rule 1's business.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # Leaves (stdlib only): the error tree, the version, the recursion guard, and the console
    # interface every edge implements (mm_agent.console: Console, hold_line).
    ("errors", ("mm_agent.errors", "mm_agent.version", "mm_agent._recursion",
                "mm_agent.console")),
    ("local", ("mm_agent.local",)),
    ("evm", ("mm_agent.evm",)),
    ("markets (demo prediction-market contracts)", ("mm_agent.markets",)),
    ("security", ("mm_agent.security",)),
    # Swaps and prices read through the engine and price sources (above security).
    ("markets (predict/swap groundwork)", ("mm_agent.markets", "mm_agent.markets.price",
                                           "mm_agent.markets.swap")),
    ("wallets", ("mm_agent.wallets",)),
    ("operations (registry, context, fields)", ("mm_agent.operations",)),
    ("devnet", ("mm_agent.devnet",)),
    # http (the JSON envelope) and html (page templates) are leaves every server layer uses.
    ("server: settings", ("mm_agent.server.settings", "mm_agent.server.datadir",
                          "mm_agent.server.http", "mm_agent.server.html")),
    ("server: db", ("mm_agent.server.db",)),
    ("server: services", ("mm_agent.server.services",)),
    ("server: dependencies", ("mm_agent.server.deps",)),
    ("server: routes", ("mm_agent.server.routes",)),
    ("server: app", ("=mm_agent.server", "mm_agent.server.app", "mm_agent.server.admin",
                     "mm_agent.server.middleware", "mm_agent.server.openapi")),
    ("operation handlers", ("mm_agent.operations.handlers",)),
    ("public API (mm_agent)", ("=mm_agent",)),
    ("toolkits", ("mm_agent.toolkits",)),
    ("cli", ("mm_agent.cli",)),
]
TERMINAL = ("mm_agent.cli", "click", "prompt_toolkit")
# (module, function) allowed to print or exit although outside the CLI.
PRINT_ALLOWED: set[tuple[str, str]] = set()


@dataclass
class Module:
    name: str
    path: Path
    is_pkg: bool
    tree: ast.Module
    imports: list[tuple[str, int]] = field(default_factory=list)  # (absolute name, line)


def _walk_sources() -> Iterator[tuple[str, Path]]:
    for folder, pkg in PACKAGE_ROOTS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join([pkg, *parts]), path


def _absolute(mod: Module, level: int, name: str | None) -> str | None:
    if level == 0:
        return name
    base = mod.name.split(".") if mod.is_pkg else mod.name.split(".")[:-1]
    if level - 1 >= len(base):
        return None
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


@cache
def modules() -> dict[str, Module]:
    mods = {}
    for name, path in _walk_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        mods[name] = Module(name, path, path.name == "__init__.py", tree)
    for mod in mods.values():
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.Import):
                mod.imports += [(a.name, node.lineno) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(mod, node.level, node.module)
                if base is None:
                    continue
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    mod.imports.append((sub if sub in mods else base, node.lineno))
    return mods


def _internal(name: str, mods: dict[str, Module]) -> str | None:
    """The module of ours that ``name`` (a module or a module.attribute) lands in."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


@cache
def graph() -> dict[str, dict[str, int]]:
    """module → {imported module: first line}."""
    mods = modules()
    edges: dict[str, dict[str, int]] = {}
    for mod in mods.values():
        out = edges.setdefault(mod.name, {})
        for name, line in mod.imports:
            target = _internal(name, mods) if name.split(".")[0] == "mm_agent" else None
            if target and target != mod.name:
                out.setdefault(target, line)
    return edges


def strongly_connected(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    result.append(sorted(comp))
    return result


def shortest_cycle(comp: list[str], edges: dict[str, dict[str, int]]) -> list[str]:
    """A shortest cycle through the component's first module, as a path."""
    members = set(comp)
    start = comp[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(edges[node]):
                if child == start:
                    return [*paths[node], start]
                if child in members and child not in paths:
                    paths[child] = [*paths[node], child]
                    nxt.append(child)
        frontier = nxt
    return comp


def _fmt_path(path: list[str], edges: dict[str, dict[str, int]]) -> str:
    hops = [f"{a} (l.{edges[a][b]})" for a, b in pairwise(path)]
    return " → ".join([*hops, path[-1]])


def layer_of(name: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, rank)
    for rank, (_, patterns) in enumerate(LAYERS):
        for pat in patterns:
            exact = pat.startswith("=")
            pat = pat.lstrip("=")
            if name == pat or (not exact and name.startswith(pat + ".")):
                if best is None or len(pat) > best[0]:
                    best = (len(pat), rank)
    return None if best is None else best[1]


# -- findings ---------------------------------------------------------------------------------

def cycle_findings() -> list[str]:
    edges = graph()
    out = []
    for comp in strongly_connected(edges):
        out.append(f"{len(comp)} modules: {', '.join(comp)}\n    e.g. "
                   + _fmt_path(shortest_cycle(comp, edges), edges))
    return out


def layer_findings() -> list[str]:
    out = []
    for mod, targets in sorted(graph().items()):
        mine = layer_of(mod)
        if mine is None:
            out.append(f"{mod}: in no layer (add it to LAYERS or move it)")
            continue
        for target, line in sorted(targets.items()):
            theirs = layer_of(target)
            if theirs is not None and theirs > mine:
                out.append(f"{mod} (l.{line}, {LAYERS[mine][0]}) imports {target} "
                           f"({LAYERS[theirs][0]})")
    return out


def terminal_findings() -> list[str]:
    out = []
    for mod in modules().values():
        if mod.name == "mm_agent.cli" or mod.name.startswith("mm_agent.cli."):
            continue
        for name, line in mod.imports:
            if any(name == t or name.startswith(t + ".") for t in TERMINAL):
                out.append(f"{mod.name} (l.{line}) imports {name}")
    return sorted(out)


def _functions(tree: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """Every node with the name of the function it is in ('' at module level)."""
    def visit(node: ast.AST, func: str) -> Iterator[tuple[str, ast.AST]]:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) \
                else func
            yield inner, child
            yield from visit(child, inner)
    yield from visit(tree, "")


def print_exit_findings() -> list[str]:
    out = []
    for mod in modules().values():
        if mod.name == "mm_agent.cli" or mod.name.startswith("mm_agent.cli."):
            continue
        for func, node in _functions(mod.tree):
            what = None
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Name) and f.id in ("print", "exit", "quit"):
                    what = f"{f.id}()"
                elif (isinstance(f, ast.Attribute) and f.attr == "exit"
                      and isinstance(f.value, ast.Name) and f.value.id == "sys"):
                    what = "sys.exit()"
            elif isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(exc, ast.Name) and exc.id == "SystemExit":
                    what = "raise SystemExit"
            if what and (mod.name, func) not in PRINT_ALLOWED:
                where = f"{func}()" if func else "module level"
                out.append(f"{mod.name} (l.{node.lineno}, {where}): {what}")
    return sorted(out)


def _check(title: str, findings: list[str]) -> None:
    if findings:
        text = f"{title}: {len(findings)}\n  " + "\n  ".join(findings)
        print(text)
        raise AssertionError(text)


# -- tests ------------------------------------------------------------------------------------

def test_sources_found() -> None:
    mods = modules()
    assert "mm_agent" in mods and "mm_agent.cli" in mods and "mm_agent.errors" in mods


def test_no_import_cycles() -> None:
    _check("import cycles", cycle_findings())


def test_no_upward_imports() -> None:
    _check("upward imports / modules without a layer", layer_findings())


def test_only_the_cli_touches_the_terminal() -> None:
    _check("terminal imports outside mm_agent.cli", terminal_findings())


def test_library_code_does_not_print_or_exit() -> None:
    _check("print / exit outside mm_agent.cli", print_exit_findings())


if __name__ == "__main__":
    for title, fn in (("import cycles", cycle_findings),
                      ("upward imports / modules without a layer", layer_findings),
                      ("terminal imports outside mm_agent.cli", terminal_findings),
                      ("print / exit outside mm_agent.cli", print_exit_findings)):
        found = fn()
        print(f"== {title}: {len(found)}")
        for line in found:
            print("  " + line)
