"""Keep Python's recursion limit sane in every process that imports mm_agent.

``py_ecc`` (pulled in by eth-account / eth-keys) runs ``sys.setrecursionlimit(100000)`` when it
is imported. With that limit, C-level recursion (the ``json`` decoder on a deeply nested
document, ``repr`` of a nested structure) overruns the C stack and kills the whole process
with SIGSEGV long before Python would raise ``RecursionError``: a single hostile request body
could take down the wallet service.

The signing stack is imported lazily from many places, so "restore after import" at each call
site would be easy to miss. Instead a tiny ``sys.meta_path`` finder wraps py_ecc's module
execution and puts the previous limit back as soon as py_ecc has set its own. It is installed
by ``import mm_agent`` (cost: one small class, no imports).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["SANE_RECURSION_LIMIT", "install", "restore"]

# CPython's default; enough for everything mm-agent does (decoders recurse a few levels).
SANE_RECURSION_LIMIT = 1000
_WATCHED = "py_ecc"


def restore(limit: int = SANE_RECURSION_LIMIT) -> None:
    """Lower the recursion limit back to ``limit`` if something raised it above."""
    if sys.getrecursionlimit() > limit:
        sys.setrecursionlimit(limit)


class _Guard:
    """Meta-path finder: delegates finding ``py_ecc`` and restores the limit after it ran."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != _WATCHED:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: Any) -> None:
            before = min(sys.getrecursionlimit(), SANE_RECURSION_LIMIT * 10)
            try:
                original_exec(module)
            finally:
                restore(max(before, SANE_RECURSION_LIMIT))

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Idempotent. If py_ecc is already imported, just restore the limit."""
    if not any(isinstance(f, _Guard) for f in sys.meta_path):
        sys.meta_path.insert(0, _Guard())
    if _WATCHED in sys.modules:
        restore()
