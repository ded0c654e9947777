"""The running devnet's record: ``MM_HOME/devnet.json`` (what ``mm devnet start`` deployed,
read by the chains, tokens and security layers) and anvil's log ``MM_HOME/devnet.log``."""

from __future__ import annotations

import contextlib
from typing import Any

from mm_agent.evm.chains import DEVNET_CHAIN_ID
from mm_agent.local.state import Home

__all__ = ["CHAIN_ID", "DEVNET_FILE", "LOG_FILE", "clear_record", "log_tail", "read_record"]

CHAIN_ID = DEVNET_CHAIN_ID
DEVNET_FILE = "devnet.json"
LOG_FILE = "devnet.log"


def log_tail(home: Home, limit: int = 600) -> str:
    try:
        return home.path(LOG_FILE).read_text(errors="replace")[-limit:].strip()
    except FileNotFoundError:
        return ""


def clear_record(home: Home, pid: int | None = None) -> None:
    """Remove devnet.json (only if it still records ``pid``, when given)."""
    if pid is not None:
        with contextlib.suppress(Exception):
            record = home.read_json(DEVNET_FILE)
            if not isinstance(record, dict) or record.get("pid") != pid:
                return
    home.path(DEVNET_FILE).unlink(missing_ok=True)


def read_record(home: Home) -> dict[str, Any] | None:
    record = home.read_json(DEVNET_FILE)
    return record if isinstance(record, dict) and record.get("pid") else None

