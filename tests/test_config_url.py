"""URL config values are validated before anything is stored: a lone surrogate from argv
(`mm config set serviceUrl $'http://\\xff'`), control characters, a bad host or port are
refused, and config.json is never written."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
from helpers import CliRunner, mm_exe

from mm_agent.errors import InvalidConfigValue, InvalidUrl
from mm_agent.local.config import Config, parse_url
from mm_agent.local.state import Home


@pytest.mark.parametrize("bad", [
    "http://\udcff", "https://h\udcfe.example/rpc", "http://a b.example", "http://h\x00.example",
    "http://h.example/\x7f", "http://h:99999", "http://h:port", "http://", "http://:8080",
    "http://a..b", "ftp://h.example", "h.example",
])
def test_parse_url_refuses(bad: str) -> None:
    with pytest.raises(InvalidUrl):
        parse_url(bad, field="serviceUrl")


@pytest.mark.parametrize(("good", "stored"), [
    ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
    ("https://svc.example:8443/base", "https://svc.example:8443/base"),
    ("http://[::1]:8765", "http://[::1]:8765"),
    ("https://bücher.example", "https://bücher.example"),
])
def test_parse_url_accepts(good: str, stored: str) -> None:
    assert parse_url(good) == stored


def test_config_set_refuses_a_lone_surrogate(mm_home: Home) -> None:
    config = Config(mm_home)
    with pytest.raises((InvalidConfigValue, InvalidUrl)):
        config.set("serviceUrl", "http://\udcff")
    with pytest.raises((InvalidConfigValue, InvalidUrl)):
        config.set("rpc.1", "https://h\udcfe.example")
    assert not (mm_home.root / "config.json").exists()


def test_cli_in_process_refuses_and_stores_nothing(mm_home: Home, mm_cli: CliRunner) -> None:
    rc, out, _ = mm_cli("config", "set", "serviceUrl", "http://\udcff")
    assert rc != 0 and out["error"]["code"] in ("INVALID_URL", "INVALID_CONFIG_VALUE"), out
    assert not (mm_home.root / "config.json").exists()


def test_mm_executable_refuses_non_utf8_argv(mm_home: Home) -> None:
    """The real argv path: the byte 0xff reaches Python as a lone surrogate."""
    proc = subprocess.run([mm_exe().encode(), b"config", b"set", b"serviceUrl", b"http://\xff",
                           b"--json"], capture_output=True, env=dict(os.environ), timeout=60)
    out: Any = json.loads(proc.stdout)
    assert proc.returncode != 0 and not out["ok"], out
    assert out["error"]["code"] in ("INVALID_URL", "INVALID_CONFIG_VALUE")
    assert not (mm_home.root / "config.json").exists()
    rc = subprocess.run([mm_exe(), "config", "get", "serviceUrl", "--json"], capture_output=True,
                        text=True, timeout=60)
    assert json.loads(rc.stdout)["data"]["source"] == "default"
