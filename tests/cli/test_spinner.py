"""The spinner never writes over a prompt or a notice: they own the line (issue 11).

The spinner draws on a fake TTY stream; ``screen`` replays what a terminal would show (``\\r``
returns to column 0 and later characters overwrite earlier ones), so a notice drawn over, or a
notice that landed in the middle of a spinner frame, shows up as a wrong line.
"""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from helpers import wait_until
from mm_agent.cli.spinner import FRAMES, Spinner, spinner
from mm_agent.cli.terminal import TerminalConsole

from mm_agent import console
from mm_agent.local.request_log import WalletRequest
from mm_agent.local.state import Home
from mm_agent.operations.context import Context
from mm_agent.wallets.remote.client import approval_notice


class FakeTTY(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.writes = 0

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        with self.lock:
            self.writes += 1
            return super().write(s)


def screen(text: str) -> list[str]:
    """What a terminal shows for ``text``: one string per line, ``\\r`` overwrites."""
    lines = []
    for raw in text.split("\n"):
        cells: list[str] = []
        col = 0
        for ch in raw:
            if ch == "\r":
                col = 0
                continue
            if col < len(cells):
                cells[col] = ch
            else:
                cells.append(ch)
            col += 1
        lines.append("".join(cells).rstrip())
    return lines


def wait_for_frames(stream: FakeTTY, n: int = 2) -> None:
    start = stream.writes
    wait_until(lambda: stream.writes >= start + n, timeout=3, interval=0.02,
               what="the spinner to draw")


def test_spinner_draws_and_clears() -> None:
    tty = FakeTTY()
    with spinner("Sending transfer", tty):
        wait_for_frames(tty)
    out = tty.getvalue()
    assert any(f"{f} Sending transfer" in out for f in FRAMES)
    assert screen(out) == [""]  # nothing left behind
    assert console._owner is None  # the line owner is released


def test_notice_gets_its_own_line_and_is_never_drawn_over() -> None:
    tty = FakeTTY()
    notice = "Approval needed: Transfer 0.5 ETH to 0xabc. Check your email."
    with spinner("Sending transfer", tty):
        wait_for_frames(tty)
        console.notify(notice, tty)
        wait_for_frames(tty, 3)  # the spinner carries on below the notice
    lines = screen(tty.getvalue())
    assert notice in lines, lines  # exactly the notice on its line: no frame before or over it


def test_prompt_owns_the_line_while_it_waits() -> None:
    tty = FakeTTY()
    with spinner("Waiting for sign-in", tty):
        wait_for_frames(tty)
        with console.hold_line():
            tty.write("Password: ")
            before = tty.writes
            time.sleep(0.35)  # several spinner ticks
            assert tty.writes == before, "the spinner drew while a prompt had the line"
            tty.write("\n")  # the person pressed Enter
        wait_for_frames(tty)
    lines = screen(tty.getvalue())
    assert "Password:" in lines, lines


def test_nested_holds_resume_only_after_the_outer_one() -> None:
    tty = FakeTTY()
    s = Spinner("x", tty, interval=0.02)
    s.start()
    try:
        wait_for_frames(tty)
        with console.hold_line():
            with console.hold_line():
                pass
            before = tty.writes
            time.sleep(0.1)  # proving an absence: a held line draws nothing for a few ticks
            assert tty.writes == before
    finally:
        s.stop()


def test_context_notice_and_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tty = FakeTTY()
    monkeypatch.setattr("sys.stderr", tty)
    # The CLI's console: the spinner on stderr (a TTY here), notices in text mode.
    ctx = Context(home=Home(tmp_path / "h"), console=TerminalConsole("text", interactive=False))
    with ctx.progress("Sending transaction"):
        wait_for_frames(tty)
        ctx.notice("The wallet service is unreachable; signed out locally only.")
        wait_for_frames(tty)
    assert "The wallet service is unreachable; signed out locally only." in screen(tty.getvalue())


def test_server_wallet_approval_notice_under_the_spinner(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    tty = FakeTTY()
    monkeypatch.setattr("sys.stderr", tty)
    req = WalletRequest.from_dict({"pollingId": "p1", "kind": "transaction", "intent":
                                   "Transfer 0.5 ETH to 0x7099", "status": "AWAITING_MFA",
                                   "approval": {"channel": "email", "reason": "outflow_limit"}})
    # The wallet's on_awaiting hook of a CLI context (the library itself only logs it).
    ctx = Context(home=Home(tmp_path / "h"), console=TerminalConsole("json", interactive=False))
    with spinner("Sending transfer", tty):
        wait_for_frames(tty)
        ctx._awaiting_notice(req)
        wait_for_frames(tty)
    assert approval_notice(req) in screen(tty.getvalue())


def test_no_progress_without_a_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The library never draws: without the CLI's console, progress and notices are silent.
    tty = FakeTTY()
    monkeypatch.setattr("sys.stderr", tty)
    monkeypatch.setattr("sys.stdout", tty)
    ctx = Context(home=Home(tmp_path / "h"))
    with ctx.progress("Sending"):
        ctx.notice("nobody hears this", always=True)
        ctx.qr("0x0000000000000000000000000000000000000001")
        ctx.show({"a": 1})
        time.sleep(0.25)  # proving an absence: no frame in a few ticks' time
    assert tty.getvalue() == ""
    assert ctx.prompt_secret("Password") is None and ctx.confirm("Sure?") is None
