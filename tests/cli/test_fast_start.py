"""Fast commands must not pay for heavy imports (the ≤150 ms start-up budget, bench/cli_startup.py).

Each command runs in a fresh interpreter through ``mm_agent.cli.app.main``; the driver then
dumps ``sys.modules``. Checking modules rather than timing keeps the test stable on slow CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"

# Never on any of the fast paths: crypto, web stacks, agent frameworks.
ALWAYS_BANNED = ("web3", "eth_account", "eth_abi", "fastapi", "langchain", "langchain_core",
                 "langgraph")

DRIVER = """
import json, sys
from mm_agent.cli.app import main
try:
    main(json.loads(sys.argv[2]))
except SystemExit:
    pass
with open(sys.argv[1], "w") as fh:
    # A None entry blocks an import (the CLI blocks httpx._main); it loads nothing.
    json.dump(sorted(k for k, v in sys.modules.items() if v is not None), fh)
"""

CASES: dict[str, tuple[list[str], tuple[str, ...]]] = {
    # name: (argv, banned beyond ALWAYS_BANNED)
    "version": (["--version"], ("pydantic", "httpx")),
    "help": (["--help"], ()),
    "config get": (["config", "get"], ("httpx",)),
    "chains list": (["chains", "list"], ("pydantic", "httpx")),
    "init show": (["init", "show"], ("httpx",)),
}


def _imported(argv: list[str], tmp_path: Path) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    dump = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
    env["MM_HOME"] = str(tmp_path / "mmhome")
    proc = subprocess.run(
        [str(PYTHON if PYTHON.exists() else sys.executable), "-c", DRIVER, str(dump),
         json.dumps(argv)],
        capture_output=True, text=True, env=env, timeout=60, cwd=str(tmp_path),
    )
    assert dump.exists(), proc.stderr
    return set(json.loads(dump.read_text())), proc


def _hits(modules: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules for b in banned if m == b or m.startswith(b + "."))


@pytest.mark.parametrize("case", list(CASES))
def test_fast_commands_skip_heavy_imports(case: str, tmp_path: Path) -> None:
    argv, extra = CASES[case]
    modules, proc = _imported(argv, tmp_path)
    # The command really ran (an import error would also leave heavy modules out).
    assert proc.stdout.strip(), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert _hits(modules, ALWAYS_BANNED + extra) == []


def test_driver_sees_heavy_imports(tmp_path: Path) -> None:
    """The check can fail: a command that validates args does load pydantic."""
    modules, _ = _imported(["config", "set", "walletTimeoutSeconds", "0"], tmp_path)
    assert "pydantic" in modules


def test_repl_start_skips_heavy_imports(tmp_path: Path) -> None:
    """What the shell loads before its first prompt: prompt_toolkit and the registry only."""
    dump = tmp_path / "modules.json"
    code = ("import json, sys\nimport mm_agent.cli.repl\n"
            "json.dump(sorted(sys.modules), open(sys.argv[1], 'w'))\n")
    subprocess.run([str(PYTHON if PYTHON.exists() else sys.executable), "-c", code, str(dump)],
                   check=True, timeout=60, cwd=str(tmp_path))
    modules = set(json.loads(dump.read_text()))
    assert _hits(modules, (*ALWAYS_BANNED, "pydantic", "httpx", "click")) == []
