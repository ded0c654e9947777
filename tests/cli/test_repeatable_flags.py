"""List fields of an args model are repeatable flags: `mm server start --rpc A --rpc B`."""

from __future__ import annotations

from typing import Any

import pytest
from mm_agent.cli import app

from mm_agent.operations.handlers.server import rpc_items_of
from mm_agent.operations.registry import get


def _raw_of(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(app, "execute", lambda op, raw, **_kw: seen.update(raw))
    assert app.run_argv(argv) == 0
    return seen


def test_rpc_is_repeatable_and_keeps_the_comma_form(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _raw_of(["server", "start", "--rpc", "8453=http://a:1", "--rpc",
                   "10=http://b/x?y=1,2,137=http://c"], monkeypatch)
    args = get("server_start").parse_args(raw)
    assert args.rpc == ["8453=http://a:1", "10=http://b/x?y=1,2,137=http://c"]
    assert rpc_items_of(args.rpc) == ["8453=http://a:1", "10=http://b/x?y=1,2",
                                      "137=http://c"]


def test_rpc_not_given_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _raw_of(["server", "start", "--port", "9999"], monkeypatch)
    assert "rpc" not in raw
    assert get("server_start").parse_args(raw).rpc is None
