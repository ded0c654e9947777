"""The BYOK request log and the agent call log (``requests.sqlite``, ``calls.sqlite``): same
records as the JSON files they replace, 0600, bounded, one import of a legacy file (kept aside),
damaged files reported and kept, and no record lost by concurrent ``mm`` processes."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from mm_agent.errors import MMError
from mm_agent.local import request_log
from mm_agent.local.call_log import CallLog
from mm_agent.local.request_log import RequestLog, WalletRequest
from mm_agent.local.state import Home

REPO = Path(__file__).resolve().parents[2]
SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _req(status: str = "COMPLETED", **kw: Any) -> WalletRequest:
    return WalletRequest(polling_id=uuid.uuid4().hex, kind="transaction", status=status,
                         intent="Send 0.001 ETH", chain_id=31337, address=SENDER,
                         preview={"z": 1, "a": {"y": 2, "b": 3}}, **kw)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _db_files(home: Home, name: str = "requests.sqlite") -> list[Path]:
    return [p for p in home.root.iterdir() if p.name.startswith(name)]


def test_records_round_trip_newest_last(tmp_path: Path) -> None:
    home = Home(tmp_path / "mm")
    log = RequestLog(home)
    assert log.all() == [] and log.recent(5) == []
    assert not home.root.exists(), "reading an empty log creates nothing"
    a, b = _req("PENDING"), _req(tx_hash="0x" + "ab" * 32, result={"to": TO})
    log.save(a)
    log.save(b)
    a.set_status("COMPLETED")
    log.save(a)  # a later save moves the record to the end, as requests.json did
    assert [r.polling_id for r in log.all()] == [b.polling_id, a.polling_id]
    assert [r.polling_id for r in log.recent(1)] == [a.polling_id]
    got = log.get(b.polling_id)
    assert got.to_dict() == b.to_dict()
    # Nested keys come back sorted, as from requests.json (`json.dumps(sort_keys=True)`).
    assert json.dumps(got.preview) == '{"a": {"b": 3, "y": 2}, "z": 1}'
    assert log.get(a.polling_id).status == "COMPLETED"
    with pytest.raises(MMError) as exc:
        log.get("nope")
    assert exc.value.code == "REQUEST_NOT_FOUND"


def test_files_are_0600_and_reset_removes_them(tmp_path: Path) -> None:
    home = Home(tmp_path / "mm")
    RequestLog(home).save(_req())
    CallLog(home).put("c1", "f", {"ok": True})
    assert _mode(home.root) == 0o700
    files = _db_files(home) + _db_files(home, "calls.sqlite")
    assert files and all(_mode(p) == 0o600 for p in files), [(p, oct(_mode(p))) for p in files]
    # WAL files while a connection is open get the database's mode too.
    conn = sqlite3.connect(home.path("requests.sqlite"))
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM requests")
    try:
        wal = [p for p in _db_files(home) if p.name.endswith(("-wal", "-shm"))]
        assert wal and all(_mode(p) == 0o600 for p in wal)
    finally:
        conn.rollback()
        conn.close()
    removed = home.reset()
    assert {"requests.sqlite", "calls.sqlite"} <= set(removed)
    assert _db_files(home) == [] and _db_files(home, "calls") == []


def test_the_log_keeps_the_newest_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(request_log, "_MAX_LOG", 5)
    log = RequestLog(Home(tmp_path / "mm"))
    reqs = [_req() for _ in range(8)]
    for r in reqs:
        log.save(r)
    assert [r.polling_id for r in log.all()] == [r.polling_id for r in reqs[-5:]]
    log.save(reqs[-5])  # an update does not drop anything
    assert len(log.all()) == 5


def test_counterparties(tmp_path: Path) -> None:
    log = RequestLog(Home(tmp_path / "mm"))
    log.save(_req(result={"to": TO, "effectiveRecipient": "0xAbC"}))
    log.save(_req("FAILED", result={"to": "0x1"}))
    other = _req(result={"to": "0x2"})
    other.address = TO
    log.save(other)
    assert log.counterparties(SENDER.lower()) == {TO.lower(), "0xabc"}


def test_requests_json_is_imported_once_and_kept(tmp_path: Path) -> None:
    home = Home(tmp_path / "mm")
    old = [_req().to_dict() for _ in range(3)]
    dup = {**old[0], "status": "FAILED"}
    legacy = [*old, dup, "junk"]
    home.write_json("requests.json", legacy)
    raw = home.path("requests.json").read_bytes()
    log = RequestLog(home)
    got = log.all()
    assert [r.polling_id for r in got] == [old[1]["pollingId"], old[2]["pollingId"],
                                           old[0]["pollingId"]]
    assert got[-1].status == "FAILED" and got[0].to_dict() == old[1]
    assert not home.path("requests.json").exists()
    kept = [p for p in home.root.iterdir() if p.name.startswith("requests.json.migrated-")]
    assert len(kept) == 1 and kept[0].read_bytes() == raw and _mode(kept[0]) == 0o600
    # Once: a requests.json written later (a server wallet's cache) is not imported.
    home.write_json("requests.json", [_req().to_dict()])
    assert len(RequestLog(home).all()) == 3


@pytest.mark.parametrize("content", [b"{not json", b'{"a": 1}'])
def test_damaged_requests_json_is_reported_and_kept(tmp_path: Path, content: bytes) -> None:
    home = Home(tmp_path / "mm")
    home.ensure()
    path = home.path("requests.json")
    path.write_bytes(content)
    path.chmod(0o600)
    for attempt in (lambda: RequestLog(home).save(_req()), lambda: RequestLog(home).all()):
        with pytest.raises(MMError) as exc:
            attempt()
        assert exc.value.code == "STATE_CORRUPT"
    assert path.read_bytes() == content
    assert not home.path("requests.sqlite").exists()


def test_damaged_database_is_reported_and_kept(tmp_path: Path) -> None:
    home = Home(tmp_path / "mm")
    home.ensure()
    path = home.path("requests.sqlite")
    content = b"this is not a database" * 300
    path.write_bytes(content)
    path.chmod(0o600)
    for attempt in (lambda: RequestLog(home).save(_req()), lambda: RequestLog(home).all(),
                    lambda: RequestLog(home).get("x")):
        with pytest.raises(MMError) as exc:
            attempt()
        assert exc.value.code == "STATE_CORRUPT", exc.value
        text = f"{exc.value.message} {exc.value.hint}".lower()
        assert "delete" not in text and "mm reset" not in text
    assert path.read_bytes() == content


def test_loose_database_mode_is_refused(tmp_path: Path) -> None:
    home = Home(tmp_path / "mm")
    RequestLog(home).save(_req())
    home.path("requests.sqlite").chmod(0o644)
    with pytest.raises(MMError) as exc:
        RequestLog(home).all()
    assert exc.value.code == "STATE_PERMISSIONS"


def test_call_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Home(tmp_path / "mm")
    home.write_json("calls.json", {"old": {"fingerprint": "f0", "envelope": {"ok": True,
                                                                             "data": 1}, "at": 1}})
    calls = CallLog(home)
    assert calls.get("old", "f0") == {"ok": True, "data": 1}
    assert not home.path("calls.json").exists()
    assert any(p.name.startswith("calls.json.migrated-") for p in home.root.iterdir())
    assert calls.get("new", "f1") is None
    calls.put("new", "f1", {"ok": True, "data": {"pollingId": "p"}})
    assert calls.get("new", "f1") == {"ok": True, "data": {"pollingId": "p"}}
    with pytest.raises(MMError) as exc:
        calls.get("new", "other")
    assert exc.value.code == "IDEMPOTENCY_CONFLICT"
    from mm_agent.local import call_log

    monkeypatch.setattr(call_log, "_MAX", 3)
    for i in range(5):
        calls.put(f"c{i}", "f", {"i": i})
    assert calls.get("c0", "f") is None and calls.get("c4", "f") == {"i": 4}


WRITER = """
import sys, uuid
sys.path.insert(0, sys.argv[3])
from mm_agent.local.call_log import CallLog
from mm_agent.local.request_log import RequestLog, WalletRequest
from mm_agent.local.state import Home
home, n = Home(sys.argv[1]), int(sys.argv[2])
log, calls = RequestLog(home), CallLog(home)
for i in range(n):
    req = WalletRequest(polling_id=uuid.uuid4().hex, kind="message", status="PENDING",
                        intent=f"w{i}")
    log.save(req)
    req.set_status("COMPLETED")
    log.save(req)
    calls.put(req.polling_id, "f", {"ok": True})
    print(req.polling_id, flush=True)
"""


def test_concurrent_processes_lose_nothing(tmp_path: Path) -> None:
    home = Home(tmp_path / "mm")
    # A legacy file too: the processes race to import it; exactly one does.
    legacy = [_req().to_dict() for _ in range(4)]
    home.write_json("requests.json", legacy)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(home.root), "25", str(REPO)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    written: list[str] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        written += out.split()
    assert len(written) == 150
    got = RequestLog(home).all()
    ids = [r.polling_id for r in got]
    assert len(ids) == len(set(ids)) == 154
    assert set(ids) == set(written) | {r["pollingId"] for r in legacy}
    assert all(r.status == "COMPLETED" for r in got if r.polling_id in set(written))
    assert all(CallLog(home).get(pid, "f") == {"ok": True} for pid in written)
    assert len([p for p in home.root.iterdir() if ".migrated-" in p.name]) == 1
    for name in ("requests.sqlite", "calls.sqlite"):
        conn = sqlite3.connect(home.path(name))
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            conn.close()
    assert not [p for p in home.root.iterdir() if p.name.endswith(".tmp")]
    assert all(_mode(home.path(n)) == 0o600 for n in os.listdir(home.root))


def test_counterparties_without_sqlite_json_functions(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    log = RequestLog(Home(tmp_path / "mm"))
    log.save(_req(result={"to": TO, "effectiveRecipient": "0xAbC"}))
    real = sqlite3.connect

    def no_json(*args: Any, **kw: Any) -> sqlite3.Connection:
        conn = real(*args, **kw)
        conn.set_authorizer(lambda action, a1, a2, *_: sqlite3.SQLITE_DENY
                            if action == sqlite3.SQLITE_FUNCTION and a2 == "json_extract"
                            else sqlite3.SQLITE_OK)
        return conn

    monkeypatch.setattr(sqlite3, "connect", no_json)
    assert log.counterparties(SENDER) == {TO.lower(), "0xabc"}
