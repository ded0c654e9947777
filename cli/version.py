"""``mm --version``: a leaf module (stdlib only) so that every CLI module may use it."""

from __future__ import annotations

import os
import sys

__all__ = ["version_line"]


def version_line() -> str:
    """``mm-agent/0.1.0 linux-x86_64 python-3.12.3``: the package by name, as the reference CLI
    answers (``@metamask/agentic-cli/4.0.1 darwin-arm64 node-v22.18.0``), so a bug report or an
    agent's version check knows which ``mm`` it is talking to."""
    from mm_agent.version import __version__

    machine = os.uname().machine if hasattr(os, "uname") else "unknown"
    py = ".".join(str(p) for p in sys.version_info[:3])
    return f"mm-agent/{__version__} {sys.platform}-{machine} python-{py}"
