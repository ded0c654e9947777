"""``wallets.json``: the one file that may hold the only copy of a user's keys.

Every reader goes through :func:`load_wallets`, which tells three cases apart: no file (not
set up), a well-formed file, and anything else (``[]``, ``null``, a missing ``mode``, a BYOK
entry without a vault, ...), which is ``STATE_CORRUPT`` and is never replaced. The only way
past a damaged or existing file is ``mm init --force``, which moves it aside with
:func:`move_aside` (``wallets.json.bak-<timestamp>``, 0600) instead of deleting it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from mm_agent.errors import StateCorrupt

from .state import FILE_MODE, Home

__all__ = ["WALLETS_FILE", "load_wallets", "move_aside", "restore_hint"]

WALLETS_FILE = "wallets.json"
MODES = ("byok", "server-wallet")


def restore_hint(path: Path) -> str:
    """What to do about a damaged wallets file, without ever suggesting to delete it."""
    return (f"{path} holds your wallet (for BYOK: the vault with your mnemonic) and may be "
            f"the only copy of your keys: keep it. Restore it from a backup (e.g. a "
            f"{path.name}.bak-* file next to it), or run `mm init --force`, which moves it "
            "aside to wallets.json.bak-<timestamp> before setting up a new wallet.")


def _corrupt(path: Path, what: str) -> StateCorrupt:
    return StateCorrupt(f"{path} is damaged: {what}.", hint=restore_hint(path))


def validate_wallets(data: Any, path: Path) -> dict[str, Any]:
    """The parsed file if it has the shape this version writes; ``STATE_CORRUPT`` otherwise."""
    if not isinstance(data, dict):
        raise _corrupt(path, f"expected a JSON object, found {type(data).__name__}")
    mode = data.get("mode")
    if mode not in MODES:
        raise _corrupt(path, "no valid `mode`" if mode is None else f"unknown mode {mode!r}")
    accounts = data.get("accounts", [])
    if not isinstance(accounts, list) or not all(
            isinstance(a, dict) and isinstance(a.get("address"), str) for a in accounts):
        raise _corrupt(path, "`accounts` is not a list of accounts")
    if mode == "byok":
        byok = data.get("byok")
        if not isinstance(byok, dict) or not isinstance(byok.get("vault"), dict):
            raise _corrupt(path, "the BYOK vault is missing")
        if not accounts:
            raise _corrupt(path, "the BYOK wallet has no account")
    return data


def load_wallets(home: Home) -> dict[str, Any] | None:
    """``None`` when there is no wallets.json; the validated content otherwise.

    Invalid JSON and wrong shapes raise ``STATE_CORRUPT`` (with a restore hint).
    """
    path = home.path(WALLETS_FILE)
    try:
        data = home.read_json(WALLETS_FILE)
    except StateCorrupt as exc:
        raise StateCorrupt(exc.message, hint=restore_hint(path)) from exc
    if data is None and not path.exists():
        return None
    return validate_wallets(data, path)


def move_aside(home: Home) -> Path | None:
    """Rename wallets.json to ``wallets.json.bak-<UTC timestamp>`` (0600); never overwrite.

    Returns the new path, or None when there was no file.
    """
    src = home.path(WALLETS_FILE)
    if not src.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = src.with_name(f"{WALLETS_FILE}.bak-{stamp}")
    n = 1
    while dest.exists():  # two --force runs in one second: keep both copies
        dest = src.with_name(f"{WALLETS_FILE}.bak-{stamp}-{n}")
        n += 1
    os.chmod(src, FILE_MODE)
    # link + unlink instead of rename: link fails if dest appeared meanwhile (no overwrite).
    os.link(src, dest)
    src.unlink()
    dir_fd = os.open(src.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return dest
