"""`mm config`: persisted settings in ``MM_HOME/config.json`` with ``MM_*`` environment overrides.

Keys (contract §3): ``serviceUrl``, ``format``, ``verbose``, ``walletTimeoutSeconds`` (1–600),
``rpc.<chainId>``, ``security.denylist``, ``smartTransactions``; beyond them
``predict.<testnet|mainnet>.<clobUrl|gammaUrl|geoblockUrl>`` (``MM_PREDICT_TESTNET_CLOB_URL``,
…). Every
value is validated on ``set`` and on read from the environment, so a typo fails loudly instead
of silently falling back to a default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mm_agent.errors import (
    InvalidConfigKey,
    InvalidConfigValue,
    InvalidFormat,
    InvalidTimeout,
    InvalidUrl,
)

from .env import environ
from .state import Home

__all__ = [
    "DEFAULT_SERVICE_URL",
    "FORMATS",
    "Config",
    "check_readable_file",
    "parse_bool",
    "parse_format",
    "parse_timeout",
    "parse_url",
]

DEFAULT_SERVICE_URL = "http://127.0.0.1:8765"
FORMATS = ("text", "json", "toon")
_RPC_KEY = re.compile(r"^(rpc|privateRpc)\.([0-9]+)$")
# `mm predict` on a real network: Polymarket's CLOB, Gamma and geoblock base URLs per mode.
_PREDICT_KEY = re.compile(r"^predict\.(testnet|mainnet)\.(clobUrl|gammaUrl|geoblockUrl)$")


def parse_url(value: str, *, field: str = "url") -> str:
    """An http(s) URL with a real host, as text that can be stored: a lone surrogate (bytes
    that were not UTF-8 on the command line), control characters, spaces, a host that is not
    a valid name or an out-of-range port are refused (INVALID_URL), never written."""
    text = str(value).strip()
    bad = InvalidUrl(f"{field}: {value!r} is not an http(s) URL.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise bad from None
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise bad
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise bad
    try:
        host = parsed.hostname or ""
        _ = parsed.port  # ValueError when not a number in 0-65535
        if not host.startswith("[") and ":" not in host:
            host.encode("idna")  # UnicodeError for names no resolver could look up
    except (ValueError, UnicodeError):
        raise bad from None
    if not host:
        raise bad
    return text.rstrip("/")


def parse_timeout(value: object, *, field: str = "walletTimeoutSeconds") -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        seconds = int(str(value).strip())
    except ValueError:
        raise InvalidTimeout(f"{field}: {value!r} is not a whole number of seconds.") from None
    if not 1 <= seconds <= 600:
        raise InvalidTimeout(f"{field}: {seconds} is outside 1–600 seconds.")
    return seconds


def parse_format(value: object) -> str:
    text = str(value).strip().lower()
    if text not in FORMATS:
        raise InvalidFormat(f"Unknown format {value!r}.")
    return text


def parse_bool(value: object, *, field: str = "value") -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InvalidConfigValue(f"{field}: {value!r} is not true or false.")


def _parse_stuck(value: object) -> int:
    try:
        seconds = int(str(value).strip())
    except ValueError:
        raise InvalidConfigValue(f"stuckAfterSeconds: {value!r} is not whole seconds.") from None
    if not 1 <= seconds <= 3600:
        raise InvalidConfigValue("stuckAfterSeconds must be within 1–3600.")
    return seconds


def _parse_fee_cap(value: object) -> str:
    """``security.feeCapMultiple``: a decimal > 1, kept as text so it round-trips exactly."""
    from decimal import Decimal, InvalidOperation

    text = str(value).strip()
    try:
        multiple = Decimal(text)
    except InvalidOperation:
        raise InvalidConfigValue(f"security.feeCapMultiple: {value!r} is not a number.") from None
    if not multiple.is_finite() or multiple <= 1 or multiple > 1000:
        raise InvalidConfigValue("security.feeCapMultiple must be a number above 1 (≤ 1000).")
    return text


def _parse_path(value: object) -> str:
    text = str(value).strip()
    if not text:
        raise InvalidConfigValue("security.denylist: give the path of a denylist JSON file.")
    return str(Path(text).expanduser())


def _parse_known_protocols(value: object) -> str:
    text = str(value).strip()
    if not text:
        raise InvalidConfigValue(
            "security.knownProtocols: give the path of a known-protocols JSON file.")
    return str(Path(text).expanduser())


# Keys whose value is a file the engine will read: `config set` checks the file now, so a typo
# or a FIFO / device / directory (which would block or never end when read) fails at once with
# INVALID_CONFIG_VALUE instead of at the first transaction.
_FILE_KEYS = frozenset({"security.denylist", "security.knownProtocols"})


def check_readable_file(path: str, *, field: str) -> str:
    """``path`` if it names an existing regular file we can read; never opens it."""
    import stat

    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InvalidConfigValue(f"{field}: {path} does not exist.") from None
    except OSError as exc:
        raise InvalidConfigValue(f"{field}: {path} cannot be read ({exc.strerror}).") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise InvalidConfigValue(f"{field}: {path} is {kind}.",
                                 hint="Give the path of a regular JSON file.")
    if not os.access(path, os.R_OK):
        raise InvalidConfigValue(f"{field}: {path} is not readable by you.")
    return path


@dataclass(frozen=True)
class _Key:
    name: str
    parse: Callable[[Any], Any]
    env: str | None
    default: Any


_KEYS: dict[str, _Key] = {
    k.name: k
    for k in (
        _Key("serviceUrl", lambda v: parse_url(v, field="serviceUrl"), "MM_SERVICE_URL",
             DEFAULT_SERVICE_URL),
        _Key("format", parse_format, "MM_FORMAT", None),
        _Key("verbose", lambda v: parse_bool(v, field="verbose"), "MM_VERBOSE", False),
        _Key("walletTimeoutSeconds", parse_timeout, "MM_WALLET_TIMEOUT", 120),
        _Key("security.denylist", _parse_path, "MM_DENYLIST", None),
        # A JSON file {"<chainId>": {"0xaddr": "name"}} of spenders the threat scan trusts,
        # merged over the built-in registry (mm_agent/security/scan/known_protocols.py).
        _Key("security.knownProtocols", _parse_known_protocols, "MM_KNOWN_PROTOCOLS", None),
        # Agent-supplied fees above this multiple of the fee-history estimate need approval.
        _Key("security.feeCapMultiple", _parse_fee_cap, "MM_FEE_CAP_MULTIPLE", "2"),
        _Key("smartTransactions", lambda v: parse_bool(v, field="smartTransactions"),
             "MM_SMART_TRANSACTIONS", True),
        # Beyond the contract's keys: where smart submission sends and when it replaces.
        _Key("smartTransactions.publicFallback",
             lambda v: parse_bool(v, field="smartTransactions.publicFallback"),
             "MM_PRIVATE_RPC_FALLBACK", False),
        _Key("smartTransactions.stuckAfterSeconds", _parse_stuck, "MM_STUCK_AFTER", 30),
    )
}


def _key_for(name: str) -> _Key:
    if name in _KEYS:
        return _KEYS[name]
    m = _RPC_KEY.match(name)
    if m:
        cid = int(m.group(2))
        if cid <= 0:
            raise InvalidConfigKey(f"Unknown config key {name!r}.")
        env = f"MM_RPC_{cid}" if m.group(1) == "rpc" else f"MM_PRIVATE_RPC_{cid}"
        return _Key(name, lambda v: parse_url(v, field=name), env, None)
    m = _PREDICT_KEY.match(name)
    if m:
        env = f"MM_PREDICT_{m.group(1).upper()}_{m.group(2)[:-3].upper()}_URL"
        return _Key(name, lambda v: parse_url(v, field=name), env, None)
    raise InvalidConfigKey(f"Unknown config key {name!r}.")


class Config:
    """Resolved settings: environment > config.json > defaults."""

    def __init__(self, home: Home | None = None, env: dict[str, str] | None = None) -> None:
        self.home = home or Home.from_env()
        self._env = environ() if env is None else env
        self._stored: dict[str, Any] | None = None

    @property
    def stored(self) -> dict[str, Any]:
        if self._stored is None:
            data = self.home.read_json("config.json", {})
            self._stored = data if isinstance(data, dict) else {}
        return self._stored

    def get(self, name: str) -> Any:
        key = _key_for(name)
        if key.env and self._env.get(key.env) not in (None, ""):
            return key.parse(self._env[key.env])
        if name in self.stored:
            return self.stored[name]
        return key.default

    def source(self, name: str) -> str:
        key = _key_for(name)
        if key.env and self._env.get(key.env) not in (None, ""):
            return f"env:{key.env}"
        return "config" if name in self.stored else "default"

    def set(self, name: str, value: str) -> Any:
        """Validate and persist; nothing is written if validation fails."""
        key = _key_for(name)
        try:
            str(value).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from argv: never stored
            raise InvalidConfigValue(
                f"{name}: the value is not valid UTF-8 text ({value!r}).") from None
        parsed = key.parse(value)
        if name in _FILE_KEYS:
            check_readable_file(str(parsed), field=name)

        def apply(data: Any) -> dict[str, Any]:
            data = dict(data) if isinstance(data, dict) else {}
            data[name] = parsed
            return data

        self._stored = self.home.update_json("config.json", {}, apply)
        return parsed

    def unset(self, name: str) -> bool:
        """Forget a persisted value (the default or the environment applies again); whether
        there was one. Unknown keys are refused like in ``set``."""
        _key_for(name)
        removed = False

        def apply(data: Any) -> dict[str, Any]:
            nonlocal removed
            data = dict(data) if isinstance(data, dict) else {}
            if name in data:
                del data[name]
                removed = True
            return data

        self._stored = self.home.update_json("config.json", {}, apply)
        return removed

    def all(self) -> dict[str, Any]:
        out = {name: self.get(name) for name in _KEYS}
        rpc_names = {k for k in self.stored if _RPC_KEY.match(k) or _PREDICT_KEY.match(k)}
        rpc_names |= {
            f"rpc.{k[7:]}" for k in self._env if k.startswith("MM_RPC_") and k[7:].isdigit()
        }
        rpc_names |= {
            f"privateRpc.{k[15:]}" for k in self._env
            if k.startswith("MM_PRIVATE_RPC_") and k[15:].isdigit()
        }
        for name in sorted(rpc_names):
            out[name] = self.get(name)
        return out

    # Typed accessors used by the engine.
    @property
    def service_url(self) -> str:
        return str(self.get("serviceUrl"))

    @property
    def wallet_timeout(self) -> int:
        return int(self.get("walletTimeoutSeconds"))

    @property
    def smart_transactions(self) -> bool:
        return bool(self.get("smartTransactions"))

    @property
    def denylist_path(self) -> str | None:
        value = self.get("security.denylist")
        return str(value) if value else None

    @property
    def known_protocols_path(self) -> str | None:
        value = self.get("security.knownProtocols")
        return str(value) if value else None

    @property
    def fee_cap_multiple(self) -> str:
        return str(self.get("security.feeCapMultiple"))

    def get_private_rpc(self, chain_id: int) -> str | None:
        value = self.get(f"privateRpc.{chain_id}")
        return str(value) if value else None

    @property
    def private_rpc_fallback(self) -> bool:
        return bool(self.get("smartTransactions.publicFallback"))

    @property
    def stuck_after_seconds(self) -> int:
        return int(self.get("smartTransactions.stuckAfterSeconds"))

    def rpc_override(self, chain_id: int) -> str | None:
        value = self.get(f"rpc.{chain_id}")
        return str(value) if value else None
