#!/usr/bin/env python3
# restructure: skip  (this file names the old layout on purpose; the rewriter leaves it alone)
"""Issue 10: move the flat ``mm_agent/`` into layered subpackages, and rewrite every reference.

Run from the repository root::

    python scripts/restructure.py            # apply
    python scripts/restructure.py --dry-run  # print the plan, change nothing

What it does, in order:

1. Plans the moves of ``MOVES`` (old path → new path; a trailing ``/`` moves a whole folder,
   files the table does not name included). Unknown modules directly in ``mm_agent/`` or
   ``mm_agent/server/`` stay where they are and are listed at the end as "not placed".
2. Rewrites, in every ``.py`` file of mm_agent/, cli/, toolkits/, tests/, bench/, scripts/ and
   the code cells of notebooks/*.ipynb: every import statement (module level, function level,
   ``TYPE_CHECKING``; ``import a.b as c``, ``from a import b`` where ``b`` is a moved module,
   relative or absolute) using ``ast`` spans, so the rest of the file is untouched. A
   rewritten import is relative when it stays inside one first-level subpackage
   (``mm_agent.security.*`` → ``mm_agent.security.*``) and absolute ``mm_agent.…`` otherwise;
   an import that still resolves correctly is left as it is. Dotted module paths in the rest of
   the text (registry handler strings ``"mm_agent.ops.wallet_ops:wallet_create"``,
   ``monkeypatch``/``mock.patch`` targets, logger names, docstrings) and ``mm_agent/…`` file
   paths (also in .md, .toml, .sh, .mjs, Makefile) are updated the same way, and so are relative
   module strings such as ``_LAZY = {"Wallet": ".wallet"}`` in ``mm_agent/__init__.py``.
3. Moves the files (``git mv`` for tracked files, a rename otherwise), writes the rewritten
   text, creates ``__init__.py`` (with a docstring) for new subpackages, removes emptied
   folders, and regenerates ``[tool.setuptools] packages`` in pyproject.toml.
4. Runs ``ruff check --select I --fix`` on the files it changed (import blocks re-sorted; the
   only formatting it changes).

Running it again is a no-op. Files whose first lines contain ``restructure: skip`` are left
alone (this script, tests/test_architecture.py).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# --------------------------------------------------------------------------------------------
# The table. Paths are relative to the repository root; "dir/" entries move a whole folder.
# --------------------------------------------------------------------------------------------

MOVES: list[tuple[str, str]] = [
    # evm/: chain primitives. Addresses, amounts, chains, tokens, fees, RPC, nonces, payloads,
    # signing, the ABI / signature tables.
    ("mm_agent/addresses.py", "mm_agent/evm/addresses.py"),
    ("mm_agent/amounts.py", "mm_agent/evm/amounts.py"),
    ("mm_agent/chains.py", "mm_agent/evm/chains.py"),
    ("mm_agent/tokens.py", "mm_agent/evm/tokens.py"),
    ("mm_agent/fees.py", "mm_agent/evm/fees.py"),
    ("mm_agent/rpc.py", "mm_agent/evm/rpc.py"),
    ("mm_agent/nonces.py", "mm_agent/evm/nonces.py"),
    ("mm_agent/payloads.py", "mm_agent/evm/payloads.py"),
    ("mm_agent/signing.py", "mm_agent/evm/signing.py"),
    ("mm_agent/signatures.py", "mm_agent/evm/signatures.py"),
    ("mm_agent/signatures_data.py", "mm_agent/evm/signatures_data.py"),
    # local/: what lives under MM_HOME.
    ("mm_agent/state.py", "mm_agent/local/state.py"),
    ("mm_agent/config.py", "mm_agent/local/config.py"),
    ("mm_agent/session.py", "mm_agent/local/session.py"),
    ("mm_agent/wallet_requests.py", "mm_agent/local/request_log.py"),
    # security/: the pipeline of contract §5 and the policy of §6.
    ("mm_agent/decode.py", "mm_agent/security/decode.py"),
    ("mm_agent/decode_types.py", "mm_agent/security/decode_types.py"),
    ("mm_agent/intents.py", "mm_agent/security/intents.py"),
    ("mm_agent/simulate.py", "mm_agent/security/simulate.py"),
    ("mm_agent/scan/", "mm_agent/security/scan/"),
    ("mm_agent/pipeline.py", "mm_agent/security/pipeline.py"),
    ("mm_agent/submit.py", "mm_agent/security/submit.py"),
    ("mm_agent/policy.py", "mm_agent/security/policy/document.py"),
    ("mm_agent/policy_eval.py", "mm_agent/security/policy/evaluate.py"),
    ("mm_agent/prices.py", "mm_agent/security/policy/prices.py"),
    # wallets/: the Wallet API, BYOK and the server-wallet client.
    ("mm_agent/wallet.py", "mm_agent/wallets/wallet.py"),
    ("mm_agent/balances.py", "mm_agent/wallets/balances.py"),
    ("mm_agent/byok/", "mm_agent/wallets/byok/"),
    ("mm_agent/remote.py", "mm_agent/wallets/remote/client.py"),
    ("mm_agent/remote_wallet.py", "mm_agent/wallets/remote/wallet.py"),
    # operations/: the registry, what a handler sees, and the handlers.
    ("mm_agent/operations.py", "mm_agent/operations/registry.py"),
    ("mm_agent/context.py", "mm_agent/operations/context.py"),
    ("mm_agent/validation.py", "mm_agent/operations/validation.py"),
    ("mm_agent/fields.py", "mm_agent/operations/fields.py"),
    ("mm_agent/ops/", "mm_agent/operations/handlers/"),
    ("mm_agent/ops/chain_ops.py", "mm_agent/operations/handlers/chains.py"),
    ("mm_agent/ops/devnet_ops.py", "mm_agent/operations/handlers/devnet.py"),
    ("mm_agent/ops/policy_ops.py", "mm_agent/operations/handlers/policy.py"),
    ("mm_agent/ops/server_ops.py", "mm_agent/operations/handlers/server.py"),
    ("mm_agent/ops/session_ops.py", "mm_agent/operations/handlers/session.py"),
    ("mm_agent/ops/setup.py", "mm_agent/operations/handlers/setup.py"),
    ("mm_agent/ops/status_ops.py", "mm_agent/operations/handlers/status.py"),
    ("mm_agent/ops/wallet_ops.py", "mm_agent/operations/handlers/wallet.py"),
    ("mm_agent/ops/cancel_ops.py", "mm_agent/operations/handlers/cancel.py"),
    ("mm_agent/ops/token_ops.py", "mm_agent/operations/handlers/tokens.py"),
    ("mm_agent/ops/mcp_ops.py", "mm_agent/operations/handlers/mcp_serve.py"),
    ("mm_agent/setup_flow.py", "mm_agent/operations/handlers/setup_flow.py"),
    # server/: app, settings and admin stay; db/, services/, routes/.
    ("mm_agent/server/store.py", "mm_agent/server/db/store.py"),
    ("mm_agent/server/keys.py", "mm_agent/server/services/keys.py"),
    ("mm_agent/server/auth.py", "mm_agent/server/services/auth.py"),
    ("mm_agent/server/signin.py", "mm_agent/server/services/signin.py"),
    ("mm_agent/server/mailer.py", "mm_agent/server/services/mailer.py"),
    ("mm_agent/server/webhooks.py", "mm_agent/server/services/webhooks.py"),
    ("mm_agent/server/jobs.py", "mm_agent/server/services/jobs.py"),
    ("mm_agent/server/approvals.py", "mm_agent/server/services/approvals.py"),
    ("mm_agent/server/policy_service.py", "mm_agent/server/services/policy.py"),
    ("mm_agent/server/routes_auth.py", "mm_agent/server/routes/auth.py"),
    ("mm_agent/server/routes_wallets.py", "mm_agent/server/routes/wallets.py"),
    ("mm_agent/server/pages.py", "mm_agent/server/routes/pages.py"),
]

# Modules other helpers were adding while this script was written (issue 10's time). They are
# moved only with --with-proposed, so the lead can check each placement first; without it they
# stay and are listed under "not placed". Entries whose file does not exist are ignored.
PROPOSED_MOVES: list[tuple[str, str]] = [
    ("mm_agent/decimals.py", "mm_agent/evm/decimals.py"),
    ("mm_agent/rpc_chain.py", "mm_agent/evm/rpc_chain.py"),
    ("mm_agent/call_log.py", "mm_agent/local/call_log.py"),
    ("mm_agent/wallets_file.py", "mm_agent/local/wallets_file.py"),
    ("mm_agent/agent_note.py", "mm_agent/security/agent_note.py"),
    ("mm_agent/txplan.py", "mm_agent/security/txplan.py"),
    ("mm_agent/policy_grants.py", "mm_agent/security/policy/grants.py"),
    ("mm_agent/safe_yaml.py", "mm_agent/security/policy/safe_yaml.py"),
    ("mm_agent/passwords.py", "mm_agent/wallets/byok/passwords.py"),
    ("mm_agent/results.py", "mm_agent/operations/results.py"),
    ("mm_agent/confirmation.py", "mm_agent/security/confirmation.py"),
    ("mm_agent/agent_schema.py", "mm_agent/operations/agent_schema.py"),
    ("mm_agent/agent_calls.py", "mm_agent/operations/agent_calls.py"),
    ("mm_agent/server/approval_guard.py", "mm_agent/server/services/approval_guard.py"),
    ("mm_agent/server/cancel.py", "mm_agent/server/services/cancel.py"),
    ("mm_agent/server/chains_served.py", "mm_agent/server/services/chains_served.py"),
    ("mm_agent/server/precheck.py", "mm_agent/server/services/precheck.py"),
    ("mm_agent/server/ratelimit.py", "mm_agent/server/services/ratelimit.py"),
    ("mm_agent/server/routes_cancel.py", "mm_agent/server/routes/cancel.py"),
    ("mm_agent/server/routes_chains.py", "mm_agent/server/routes/chains.py"),
]
PROPOSED_STAY: set[str] = {
    "mm_agent/_recursion.py",  # process-wide set-up, below every layer
    "mm_agent/console.py",  # the hooks library code uses to reach a terminal, if any
    "mm_agent/server/datadir.py",  # beside settings
    "mm_agent/server/middleware.py",  # beside app
    "mm_agent/server/openapi.py",  # beside app
}
# Not proposed: mm_agent/console.py (terminal ownership: cli/ if it writes to the terminal, or
# operations/ if it is only the protocol Context talks to).

# Placed on purpose where they are (not reported as "not placed").
STAY: set[str] = {
    "mm_agent/__init__.py",  # the public API (``from mm_agent import Wallet``)
    "mm_agent/errors.py",  # the one error tree, below every layer
    "mm_agent/devnet.py",  # the anvil devnet; its artifacts stay in mm_agent/contracts/
    "mm_agent/server/__init__.py",
    "mm_agent/server/app.py",
    "mm_agent/server/settings.py",
    "mm_agent/server/admin.py",
}

# Folders in which every module must be placed by the table (others move whole, or stay).
PLACED_FOLDERS = ("mm_agent", "mm_agent/server")

NEW_PACKAGE_DOCS: dict[str, str] = {
    "mm_agent/evm": "EVM primitives: addresses, amounts, chains, tokens, fees, JSON-RPC, nonces,\n"
                    "payloads, signing, and the ABI / signature tables.",
    "mm_agent/local": "Local state under ``MM_HOME``: the home folder, config, the sign-in\n"
                      "session and the request log.",
    "mm_agent/security": "The security pipeline (contract §5): decode and intents, simulate,\n"
                         "scan, policy, preview and execute, submit.",
    "mm_agent/security/policy": "Wallet policies (contract §6): the document, its evaluation,\n"
                                "and USD prices.",
    "mm_agent/wallets": "The Wallet API: the BYOK wallet (``byok/``), the server-wallet client\n"
                        "(``remote/``), balances.",
    "mm_agent/wallets/remote": "The server wallet: the wallet-service HTTP client and the Wallet "
                               "over it.",
    "mm_agent/operations": "The operation registry, what a handler sees (``context``), args fields "
                           "and\nvalidation, and the handlers (``handlers/``).",
    "mm_agent/server/db": "The wallet service's database: tables, migrations, connections.",
    "mm_agent/server/services": "The wallet service's logic: keys, tokens, sign-in, mail, jobs, "
                                "approvals, policies.",
    "mm_agent/server/routes": "The wallet service's HTTP routers and server-rendered pages.",
}

# Where .py files are rewritten, and how a folder maps to an import name.
PY_ROOTS = ("mm_agent", "cli", "toolkits", "tests", "bench", "scripts", "notebooks")
PACKAGE_ROOTS = {"mm_agent": "mm_agent", "cli": "mm_agent.cli", "toolkits": "mm_agent.toolkits"}
TEXT_SUFFIXES = {".md", ".toml", ".sh", ".mjs", ".js", ".cfg", ".ini", ".txt", ".rst"}
TEXT_NAMES = {"Makefile"}
SKIP_MARK = "restructure: skip"
TOP = "mm_agent"


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

def module_of(path: str) -> str | None:
    """Import name of a .py path (``cli/app.py`` → ``mm_agent.cli.app``), None outside."""
    if not path.endswith(".py"):
        return None
    parts = path[:-3].split("/")
    root = PACKAGE_ROOTS.get(parts[0])
    if root is None:
        return None
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([root, *parts[1:]])


def is_package_file(path: str) -> bool:
    return path.endswith("/__init__.py")


def prefix_lookup(name: str, table: dict[str, str], sep: str) -> str | None:
    """Longest component-wise prefix of ``name`` in ``table``, the rest kept."""
    parts = name.split(sep)
    for i in range(len(parts), 0, -1):
        head = sep.join(parts[:i])
        if head in table:
            return sep.join([table[head], *parts[i:]])
    return None


@dataclass
class Plan:
    moves: dict[str, str] = field(default_factory=dict)  # file old → new (this run)
    mod_map: dict[str, str] = field(default_factory=dict)  # module old → new (active)
    path_map: dict[str, str] = field(default_factory=dict)  # path old → new (active)
    old_modules: set[str] = field(default_factory=set)  # modules known under old names
    new_modules: set[str] = field(default_factory=set)  # modules after the moves
    not_placed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def map_module(self, name: str) -> str:
        return prefix_lookup(name, self.mod_map, ".") or name

    def map_path(self, path: str) -> str:
        return prefix_lookup(path.rstrip("/"), self.path_map, "/") or path.rstrip("/")


def list_files(root: Path, top: str) -> list[str]:
    base = root / top
    if not base.exists():
        return []
    out = []
    for p in base.rglob("*"):
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc"):
            out.append(p.relative_to(root).as_posix())
    return sorted(out)


def make_plan(root: Path, with_proposed: bool = False) -> Plan:
    plan = Plan()
    files = list_files(root, TOP)
    moves = MOVES + (PROPOSED_MOVES if with_proposed else [])
    file_entries = {o: n for o, n in moves if not o.endswith("/")}
    dir_entries = {o.rstrip("/"): n.rstrip("/") for o, n in moves if o.endswith("/")}

    for f in files:
        dest = file_entries.get(f) or prefix_lookup(f, dir_entries, "/")
        if dest and dest != f:
            if (root / dest).exists():
                plan.conflicts.append(f"{f} → {dest}: both exist, not moved")
                continue
            plan.moves[f] = dest
    destinations = set(plan.moves.values())
    after = {plan.moves.get(f, f) for f in files}
    plan.new_modules = {m for f in after if (m := module_of(f))}
    plan.old_modules = {m for f in files if (m := module_of(f))}

    # Unknown modules in folders the table places module by module.
    known = set(file_entries) | set(file_entries.values()) | STAY \
        | (PROPOSED_STAY if with_proposed else set())
    for f in files:
        folder = f.rsplit("/", 1)[0]
        if (f.endswith(".py") and folder in PLACED_FOLDERS and f not in known
                and f not in plan.moves and f not in destinations):
            plan.not_placed.append(f)

    # Module and path maps: this run's moves, then the table's entries that still apply. A table
    # entry whose old name is now (also) a new module or package is applied only while its old
    # file exists: that keeps a second run from remapping the new names (mm_agent.operations).
    for old, new in plan.moves.items():
        plan.path_map[old] = new
        mo, mn = module_of(old), module_of(new)
        if mo and mn:
            plan.mod_map[mo] = mn
    entries = list(file_entries.items()) + [(o + "/__init__.py", n + "/__init__.py")
                                            for o, n in dir_entries.items()]
    for old, new in entries:
        mo, mn = module_of(old), module_of(new)
        if not (mo and mn) or mo == mn:
            continue
        collides = any(m == mo or m.startswith(mo + ".") for m in plan.new_modules)
        if (root / old).exists() or not collides:
            plan.mod_map.setdefault(mo, mn)
            plan.old_modules.add(mo)
            po, pn = (old[: -len("/__init__.py")], new[: -len("/__init__.py")]) \
                if is_package_file(old) else (old, new)
            plan.path_map.setdefault(po, pn)
    for old, new in dir_entries.items():
        plan.path_map.setdefault(old, new)
    return plan


# --------------------------------------------------------------------------------------------
# Rewriting one Python source
# --------------------------------------------------------------------------------------------

DOTTED = re.compile(r"(?<![\w.])mm_agent(?:\.[A-Za-z_]\w*)+")
PATHLIKE = re.compile(r"(?<![\w/.])mm_agent(?:/[\w.-]+)+/?")
REL_STRING = re.compile(r"^\.+[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


def resolve_relative(module: str | None, is_pkg: bool, level: int, name: str | None) -> str | None:
    if level == 0:
        return name
    if module is None:
        return None
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    if level - 1 > len(base) - 1:
        return None
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def relative_spec(src: str, src_is_pkg: bool, target: str) -> str:
    """``from <spec> import`` for ``target`` seen from ``src`` under the layout convention."""
    sp, tp = src.split("."), target.split(".")
    # Relative only inside one first-level subpackage of mm_agent (mm_agent.X.… → mm_agent.X.…).
    pkg = sp if src_is_pkg else sp[:-1]
    if len(pkg) >= 2 and len(tp) >= 2 and pkg[:2] == tp[:2] and sp[0] == TOP:
        common = 0
        while common < min(len(pkg), len(tp)) and pkg[common] == tp[common]:
            common += 1
        level = len(pkg) - common + 1
        return "." * level + ".".join(tp[common:])
    return target


class Rewriter:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def is_module(self, name: str) -> bool:
        return name in self.plan.old_modules or name in self.plan.new_modules

    # -- dotted names and paths in plain text ------------------------------------------------

    def text(self, s: str) -> str:
        def dotted(m: re.Match[str]) -> str:
            return self.plan.map_module(m.group(0))

        def pathlike(m: re.Match[str]) -> str:
            raw = m.group(0)
            core = raw.rstrip("/.")
            tail = raw[len(core):]
            mapped = prefix_lookup(core, self.plan.path_map, "/")
            return (mapped + tail) if mapped else raw

        return PATHLIKE.sub(pathlike, DOTTED.sub(dotted, s))

    # -- Python --------------------------------------------------------------------------------

    def python(self, src: str, old_path: str | None, new_path: str | None) -> tuple[str, list[str]]:
        """Rewritten source and warnings. ``old_path``/``new_path`` give the module names."""
        warnings: list[str] = []
        old_mod = module_of(old_path) if old_path else None
        new_mod = module_of(new_path) if new_path else None
        is_pkg = bool(old_path and is_package_file(old_path))
        try:
            tree = ast.parse(src)
        except SyntaxError as err:
            warnings.append(f"{old_path}: not parsed ({err.msg}); only dotted names rewritten")
            return self.text(src), warnings

        lines = src.splitlines(keepends=True)
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line))

        def offset(lineno: int, col: int) -> int:
            line = lines[lineno - 1]
            return starts[lineno - 1] + len(line.encode()[:col].decode(errors="ignore"))

        edits: list[tuple[int, int, str | None]] = []  # (start, end, replacement or None=keep)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                a = offset(node.lineno, node.col_offset)
                b = offset(node.end_lineno or node.lineno, node.end_col_offset or 0)
                original = src[a:b]
                new = self.import_node(node, original, old_mod, new_mod, is_pkg, src, a)
                edits.append((a, b, new))
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and REL_STRING.match(node.value) and old_mod):
                target = resolve_relative(old_mod, is_pkg, len(node.value) - len(
                    node.value.lstrip(".")), node.value.lstrip("."))
                if target and target in self.plan.mod_map:
                    a = offset(node.lineno, node.col_offset)
                    b = offset(node.end_lineno or node.lineno, node.end_col_offset or 0)
                    quote = src[a]
                    if quote in "'\"" and src[b - 1] == quote:
                        edits.append((a, b, quote + self.plan.map_module(target) + quote))

        edits.sort()
        out, pos = [], 0
        for a, b, new in edits:
            if a < pos:  # nested (cannot happen for imports); keep the outer edit
                continue
            out.append(self.text(src[pos:a]))
            out.append(src[a:b] if new is None else new)
            pos = b
        out.append(self.text(src[pos:]))
        return "".join(out), warnings

    def import_node(self, node: ast.Import | ast.ImportFrom, original: str, old_mod: str | None,
                    new_mod: str | None, is_pkg: bool, src: str, start: int) -> str | None:
        line_start = src.rfind("\n", 0, start) + 1
        indent = src[line_start:start]
        joiner = "\n" + indent if indent.strip() == "" else "; "
        new_is_pkg = is_pkg  # a package __init__ stays an __init__

        if isinstance(node, ast.Import):
            changed, parts = False, []
            for alias in node.names:
                name = alias.name
                mapped = self.plan.map_module(name) if name.split(".")[0] == TOP else name
                changed |= mapped != name
                parts.append(mapped + (f" as {alias.asname}" if alias.asname else ""))
            return "import " + ", ".join(parts) if changed else None

        old_base = resolve_relative(old_mod, is_pkg, node.level, node.module)
        if old_base is None or old_base.split(".")[0] != TOP:
            return None
        # Each imported name: (new "from" module, alias text).
        groups: dict[str, list[str]] = {}
        for alias in node.names:
            bound = alias.asname or alias.name
            candidate = f"{old_base}.{alias.name}"
            if alias.name != "*" and self.is_module(candidate):
                target = self.plan.map_module(candidate)
                parent, last = target.rsplit(".", 1)
                text = last if last == bound else f"{last} as {bound}"
            else:
                parent = self.plan.map_module(old_base)
                text = alias.name + (f" as {alias.asname}" if alias.asname else "")
            groups.setdefault(parent, []).append(text)

        # Unchanged when the statement, read from its new place, imports the same things.
        here_base = resolve_relative(new_mod or old_mod, new_is_pkg, node.level, node.module)
        originals = [a.name + (f" as {a.asname}" if a.asname else "") for a in node.names]
        src_for_spec = new_mod or old_mod or ""
        # Relative imports that leave their first-level subpackage become absolute, moved or not.
        convention_ok = node.level == 0 or relative_spec(
            src_for_spec, new_is_pkg, here_base or "").startswith(".")
        if list(groups) == [here_base] and groups[here_base] == originals and convention_ok:
            return None
        if len(groups) == 1 and (parent := next(iter(groups))) and groups[parent] == originals:
            # Same names: swap the module only, keep the names' formatting and comments.
            spec = relative_spec(src_for_spec, new_is_pkg, parent) if src_for_spec else parent
            return re.sub(r"^from\s+[.\w]+\s+import", f"from {spec} import", original, count=1)
        stmts = []
        for parent, names in groups.items():
            spec = relative_spec(src_for_spec, new_is_pkg, parent) if src_for_spec else parent
            stmts.append(f"from {spec} import " + ", ".join(names))
        return joiner.join(stmts)


# --------------------------------------------------------------------------------------------
# Lines that the longer names pushed over the line length
# --------------------------------------------------------------------------------------------

def line_limit(root: Path) -> int:
    m = re.search(r"^line-length\s*=\s*(\d+)", (root / "pyproject.toml").read_text(), re.M)
    return int(m.group(1)) if m else 88


def wrap_long_lines(text: str, before: str, limit: int) -> tuple[str, list[int]]:
    """Break lines made too long by the rewrite: after a comma inside brackets, or between
    words inside a triple-quoted string. Returns the text and the line numbers left too long."""
    known = {ln for ln in before.splitlines() if len(ln) > limit}
    left: list[int] = []
    for _ in range(200):
        lines = text.splitlines(keepends=True)
        bad = [i for i, ln in enumerate(lines)
               if len(ln.rstrip("\r\n")) > limit and ln.rstrip("\r\n") not in known]
        if not bad:
            break
        i = bad[0]
        fixed = _wrap_one(text, lines, i, limit)
        if fixed is None:
            known.add(lines[i].rstrip("\r\n"))
            left.append(i + 1)
        else:
            text = fixed
    return text, left


def _wrap_one(text: str, lines: list[str], i: int, limit: int) -> str | None:
    import io
    import tokenize

    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    row = i + 1
    line = lines[i].rstrip("\r\n")
    eol = lines[i][len(line):]
    indent = line[: len(line) - len(line.lstrip())]
    if line.lstrip().startswith("#"):  # a comment line: carry the last words to a new one
        cut = line.rfind(" ", len(indent) + 2, limit + 1)
        if cut <= len(indent) + 2:
            return None
        lines[i] = line[:cut].rstrip() + eol + f"{indent}# {line[cut + 1:].lstrip()}" + eol
        return "".join(lines)
    stack: list[tuple[int, int]] = []  # open brackets (row, col)
    best: tuple[int, int] | None = None  # (comma end col, hanging indent col)
    for tok in toks:
        if tok.type == tokenize.STRING and tok.start[0] <= row <= tok.end[0] \
                and tok.string.lstrip("rbuRBUfF").startswith(('"""', "'''")):
            # Inside a triple-quoted string: move the last words to the next line.
            cut = line.rfind(" ", len(indent) + 1, limit + 1)
            if cut <= len(indent):
                return None
            head, rest = line[:cut].rstrip(), line[cut + 1:].lstrip()
            in_string_next = row < tok.end[0]
            nxt = lines[i + 1].rstrip("\r\n") if i + 1 < len(lines) else ""
            joinable = nxt.strip() and not nxt.lstrip().startswith(
                ('"""', "'''", "-", "*", ">>>", "``"))
            if in_string_next and joinable:
                nindent = nxt[: len(nxt) - len(nxt.lstrip())]
                lines[i + 1] = f"{nindent}{rest} {nxt.lstrip()}" + lines[i + 1][len(nxt):]
                lines[i] = head + eol
            else:
                col = tok.start[1] if tok.start[0] == row else len(indent)
                lines[i] = head + eol + " " * col + rest + eol
            return "".join(lines)
        if tok.start[0] > row:
            break
        if tok.type == tokenize.OP and tok.string in "([{":
            stack.append(tok.start)
        elif tok.type == tokenize.OP and tok.string in ")]}":
            if stack:
                stack.pop()
        elif (tok.type == tokenize.OP and tok.string == "," and tok.start[0] == row and stack
              and tok.end[1] <= limit):
            opened = stack[-1]
            hang = opened[1] + 1 if opened[0] == row else len(indent)
            best = (tok.end[1], hang)
    if best is None:
        return None
    end, hang = best
    rest = line[end:].lstrip()
    if not rest or rest.startswith("#"):
        return None
    lines[i] = line[:end] + eol + " " * hang + rest + eol
    return "".join(lines)


# --------------------------------------------------------------------------------------------
# Applying
# --------------------------------------------------------------------------------------------

def git_tracked(root: Path) -> set[str] | None:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {p for p in out.decode().split("\0") if p}


def skipped(text: str) -> bool:
    return SKIP_MARK in "\n".join(text.splitlines()[:5])


def rewrite_targets(root: Path) -> list[str]:
    """Every file whose text is rewritten (repo-relative, pre-move paths)."""
    out: list[str] = []
    for top in PY_ROOTS:
        for f in list_files(root, top):
            if f.endswith((".py", ".ipynb")) or Path(f).suffix in TEXT_SUFFIXES \
                    or Path(f).name in TEXT_NAMES:
                out.append(f)
    for p in sorted(root.iterdir()):
        if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES):
            out.append(p.name)
    return out


def rewrite_notebook(rw: Rewriter, text: str) -> str:
    nb = json.loads(text)
    changed = False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        code = "".join(source) if isinstance(source, list) else source
        new, _ = rw.python(code, None, None)
        if new != code:
            changed = True
            cell["source"] = new.splitlines(keepends=True) if isinstance(source, list) else new
    if not changed:
        return text
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def packages_block(root: Path) -> list[str]:
    pkgs = set()
    for folder, name in PACKAGE_ROOTS.items():
        for init in (root / folder).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(root / folder).parts
            pkgs.add(".".join([name, *rel]))
    core = sorted(p for p in pkgs if not p.startswith(("mm_agent.cli", "mm_agent.toolkits")))
    return core + sorted(p for p in pkgs if p.startswith("mm_agent.toolkits")) \
        + sorted(p for p in pkgs if p.startswith("mm_agent.cli"))


def update_pyproject(root: Path, text: str) -> str:
    block = "packages = [\n" + "".join(f'    "{p}",\n' for p in packages_block(root)) + "]"
    return re.sub(r"^packages = \[\n.*?^\]", lambda _: block, text, count=1,
                  flags=re.M | re.S)


def find_ruff() -> str | None:
    local = Path(sys.executable).parent / "ruff"
    return str(local) if local.exists() else shutil.which("ruff")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=".", help="repository root (default: .)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    ap.add_argument("--with-proposed", action="store_true",
                    help="also apply PROPOSED_MOVES (modules added after the table was written)")
    ap.add_argument("--no-ruff", action="store_true", help="do not re-sort imports with ruff")
    opts = ap.parse_args()
    root = Path(opts.root).resolve()
    if not (root / TOP / "__init__.py").exists() or not (root / "pyproject.toml").exists():
        print(f"{root} is not the mm-agent repository root", file=sys.stderr)
        return 2

    plan = make_plan(root, opts.with_proposed)
    rw = Rewriter(plan)
    warnings: list[str] = []
    limit = line_limit(root)
    long_lines: list[tuple[str, str]] = []  # (path, line) still too long; ruff may wrap imports

    # 1. New text of every file, computed from the old layout before anything moves.
    new_texts: dict[str, str] = {}  # new path → text, for files whose text changes
    for f in rewrite_targets(root):
        path = root / f
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if skipped(text):
            continue
        dest = plan.moves.get(f, f)
        if f.endswith(".py"):
            new, warns = rw.python(text, f, dest)
            warnings += warns
            if new != text:
                new, left = wrap_long_lines(new, text, limit)
                long_lines += [(dest, new.splitlines()[n - 1]) for n in left]
            if dest != f and ("__file__" in text or "importlib.resources" in text):
                warnings.append(f"{dest}: uses __file__ / importlib.resources; check its paths")
        elif f.endswith(".ipynb"):
            new = rewrite_notebook(rw, text)
        else:
            new = rw.text(text)
        if new != text:
            new_texts[dest] = new

    # New packages: folders that will hold .py files and have no __init__.py.
    final_files = {plan.moves.get(f, f) for f in list_files(root, TOP)}
    new_inits: list[str] = []
    for f in sorted(final_files):
        if not f.endswith(".py"):
            continue
        folder = f.rsplit("/", 1)[0]
        while folder.startswith(TOP + "/"):
            init = f"{folder}/__init__.py"
            if init not in final_files and init not in new_inits:
                new_inits.append(init)
            folder = folder.rsplit("/", 1)[0]

    print(f"restructure: {len(plan.moves)} file(s) to move, {len(new_inits)} package(s) to "
          f"create, {len(new_texts)} file(s) to rewrite")
    for old, new in sorted(plan.moves.items()):
        print(f"  move     {old} → {new}")
    for init in new_inits:
        print(f"  create   {init}")
    for f in sorted(new_texts):
        print(f"  rewrite  {f}")
    if opts.dry_run:
        report(plan, warnings)
        return 0

    # 2. Move.
    tracked = git_tracked(root)
    for old, new in sorted(plan.moves.items()):
        (root / new).parent.mkdir(parents=True, exist_ok=True)
        if tracked is not None and old in tracked:
            subprocess.run(["git", "mv", old, new], cwd=root, check=True)
        else:
            os.rename(root / old, root / new)
    # 3. New text, packages, pyproject.
    for path, text in new_texts.items():
        (root / path).write_text(text, encoding="utf-8")
    for init in new_inits:
        folder = init.rsplit("/", 1)[0]
        doc = NEW_PACKAGE_DOCS.get(folder, f"The ``{folder.replace('/', '.')}`` package.")
        (root / init).write_text(f'"""{doc}"""\n', encoding="utf-8")
        if tracked is not None:
            subprocess.run(["git", "add", init], cwd=root, check=True)
    removed = remove_empty_dirs(root, {old.rsplit("/", 1)[0] for old in plan.moves})
    for d in removed:
        print(f"  remove   {d}/ (empty)")
    pyproject = root / "pyproject.toml"
    before = pyproject.read_text(encoding="utf-8")
    after = update_pyproject(root, before)
    if after != before:
        pyproject.write_text(after, encoding="utf-8")
        print("  update   pyproject.toml [tool.setuptools] packages")

    # 4. Import blocks re-sorted (imports whose module changed may now sort elsewhere).
    changed_py = sorted(p for p in set(new_texts) | set(new_inits) if p.endswith(".py"))
    ruff = None if opts.no_ruff else find_ruff()
    if changed_py and ruff:
        proc = subprocess.run([ruff, "check", "--select", "I", "--fix", "--quiet", *changed_py],
                              cwd=root, capture_output=True, text=True)
        if proc.returncode not in (0, 1):
            warnings.append(f"ruff --select I --fix failed: {proc.stderr.strip()}")
        else:
            print(f"  ruff     import blocks re-sorted in {len(changed_py)} file(s)")
    elif changed_py:
        warnings.append("ruff not found: run `ruff check --select I --fix` on the changed files")
    for path, line in long_lines:
        current = (root / path).read_text(encoding="utf-8").splitlines()
        if line in current:
            n = current.index(line) + 1
            warnings.append(f"{path}:{n}: longer than {limit} after the rewrite; wrap it by hand")
    if not plan.moves and not new_texts and not new_inits and after == before:
        print("restructure: nothing to do (already applied)")
    report(plan, warnings)
    return 0


def remove_empty_dirs(root: Path, folders: set[str]) -> list[str]:
    removed = []
    for folder in sorted(folders, key=lambda f: -f.count("/")):
        d = root / folder
        while d != root and d.exists():
            rest = [p for p in d.iterdir() if p.name != "__pycache__"]
            if rest:
                break
            shutil.rmtree(d)
            removed.append(d.relative_to(root).as_posix())
            d = d.parent
    return removed


def report(plan: Plan, warnings: list[str]) -> None:
    for c in plan.conflicts:
        print(f"CONFLICT: {c}")
    for w in warnings:
        print(f"WARNING: {w}")
    if plan.not_placed:
        print("not placed (left where they are; give them a place in MOVES or STAY):")
        proposed = dict(PROPOSED_MOVES)
        for f in plan.not_placed:
            hint = (f"  (--with-proposed: → {proposed[f]})" if f in proposed
                    else "  (--with-proposed: stays)" if f in PROPOSED_STAY else "")
            print(f"  {f}{hint}")


if __name__ == "__main__":
    sys.exit(main())
