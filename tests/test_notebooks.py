"""Every notebook in notebooks/ runs top to bottom offline (nbclient, a real kernel); an error
cell fails the test.

Each notebook starts its own devnet and service on free ports in a temp MM_HOME and stops them
in its last cell, so they run at once, in threads, next to the rest of the suite; each result is
then checked by its own test. The notebooks stay committed without outputs.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT = 120


def _execute(path: Path) -> tuple[Any, BaseException | None, float]:
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        book, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}})
    started = time.monotonic()
    try:
        client.execute()
        error = None
    except BaseException as exc:  # CellExecutionError, DeadKernelError, timeouts
        error = exc
    return book, error, time.monotonic() - started


@pytest.fixture(scope="module")
def executed() -> Iterator[dict[str, tuple[Any, BaseException | None, float]]]:
    # Offline: no model API, so the notebooks' scripted chat model stands in for the LLM.
    # (Each notebook's sandbox drops the caller's MM_HOME & co. itself.)
    saved = {k: os.environ.pop(k) for k in ("OPENAI_API_KEY",) if k in os.environ}
    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("mm-nb-*"))
    try:
        with ThreadPoolExecutor(max_workers=len(PATHS)) as pool:
            results = dict(zip([p.name for p in PATHS], pool.map(_execute, PATHS),
                               strict=True))
    finally:
        os.environ.update(saved)
    for name, (_book, _error, seconds) in results.items():
        print(f"{name}: {seconds:.1f} s", file=sys.stderr)
    yield results
    # A notebook that failed before its last cell: end what it left running (processes that
    # name its temp folder), remove the folder.
    for root in set(tmp.glob("mm-nb-*")) - before:
        _support().kill_and_remove(root)


def _support() -> Any:
    """notebooks/_support.py, loaded under its own name (no sys.path change)."""
    spec = importlib.util.spec_from_file_location("mm_notebook_support",
                                                  NOTEBOOKS / "_support.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_exist_without_outputs() -> None:
    names = [p.name for p in PATHS]
    assert names == ["01_byok_quickstart.ipynb", "02_server_wallet_2fa.ipynb",
                     "03_langgraph_approval.ipynb", "04_streaming_agent.ipynb"], names
    for path in PATHS:
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        for cell in book.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, (path.name, cell.id)


@pytest.mark.parametrize("name", [p.name for p in PATHS])
def test_notebook_runs_without_error(executed: dict[str, Any], name: str) -> None:
    book, error, _seconds = executed[name]
    assert error is None, f"{name}: {error}"
    for cell in book.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", (name, cell.source, out)
    # The last cell stopped everything it started and removed its temp MM_HOME.
    last = "".join(o.get("text", "") for o in book.cells[-1].outputs)
    assert "'tempDirRemoved': True" in last and "'processesLeft': []" in last, last
