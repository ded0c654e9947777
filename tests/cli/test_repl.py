"""The interactive shell (`mm` with no arguments on a TTY), driven through a real pseudo-terminal.

The main session runs with TERM=dumb: prompt_toolkit then prints the prompt and echoes typed
characters as plain text (no cursor movement), so what we expect is exactly what a user sees.
A second session runs with TERM=xterm to cover the full renderer.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pexpect
import pytest
from helpers import mm_exe
from mm_agent.cli.repl import MMCompleter, SafeFileHistory, has_secret, open_history, split_line
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from mm_agent import __version__
from mm_agent.local.state import Home
from mm_agent.operations.registry import OPERATIONS

REPO = Path(__file__).resolve().parents[2]
MM = mm_exe()
TIMEOUT = 20


def _env(home: Path, term: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
    env.update({
        "MM_HOME": str(home),
        "TERM": term,
        # No cursor-position requests: the pty has no terminal to answer them.
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "COLUMNS": "160",
        "LINES": "50",
    })
    return env


def _spawn(home: Path, term: str) -> pexpect.spawn:
    child = pexpect.spawn(MM, env=_env(home, term), dimensions=(50, 160),
                          encoding="utf-8", timeout=TIMEOUT, cwd=str(REPO))
    return child


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "mmhome"


def test_repl_session_dumb_terminal(home: Path) -> None:
    child = _spawn(home, "dumb")
    try:
        child.expect_exact(__version__)
        child.expect_exact("mm> ")

        # Tab completion: `cha<TAB>` becomes `chains` (the dumb renderer echoes the new "s").
        child.send("cha")
        child.expect_exact("cha")
        child.send("\t")
        child.expect_exact("s")
        child.send(" list\r")
        child.expect_exact("Ethereum")  # text format on a TTY
        child.expect_exact("mm> ")

        # A failing command reports its code and the shell goes on.
        child.sendline("config set walletTimeoutSeconds 900")
        child.expect_exact("Error [INVALID_TIMEOUT]")
        child.expect_exact("Hint:")
        child.expect_exact("mm> ")
        child.sendline("config get walletTimeoutSeconds")
        child.expect(r"value\s+120")
        child.expect_exact("mm> ")

        # A secret typed inline is refused, and the line never reaches the history file.
        child.sendline('init --wallet byok --mnemonic "zebra quokka"')
        child.expect_exact("Error [INLINE_SECRET_REFUSED]")
        child.expect_exact("mm> ")

        # Broken quoting: a clear error, no crash.
        child.sendline('decode --payload "0x12')
        child.expect_exact("cannot parse the line")
        child.expect_exact("mm> ")

        # Unknown commands and flags are usage errors, not the end of the shell.
        child.sendline("chains list --bogus")
        child.expect_exact("Error [UNKNOWN_FLAG]")
        child.expect_exact("mm> ")

        # `help` shows the command tree; `mm` in front of a line is tolerated.
        child.sendline("help")
        child.expect_exact("Commands:")
        child.expect_exact("mm> ")
        child.sendline("mm chains list --json")
        child.expect_exact('"caip2": "eip155:8453"')
        child.expect_exact("mm> ")

        # Ctrl-C at the prompt gives a fresh prompt.
        child.send("wallet li")
        child.expect_exact("li")
        child.sendcontrol("c")
        child.expect_exact("mm> ")

        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before

    history = home / "history"
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    text = history.read_text()
    assert "chains list" in text  # the completed line, as run
    assert "config set walletTimeoutSeconds 900" in text
    assert "quokka" not in text and "--mnemonic" not in text
    assert not (home / "wallets.json").exists()
    # The failing set wrote nothing.
    assert not (home / "config.json").exists()


def test_repl_xterm_completion_and_ctrl_d(home: Path) -> None:
    child = _spawn(home, "xterm")
    try:
        child.expect_exact("mm>")
        child.send("cha")
        child.expect_exact("cha")
        child.send("\t")
        child.expect_exact("ins")  # the renderer draws only what changed: "cha" + "ins"
        child.send(" list\r")
        child.expect_exact("Ethereum")
        child.expect_exact("mm>")
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert "chains list" in (home / "history").read_text()


def test_repl_history_is_recalled(home: Path) -> None:
    home.mkdir(mode=0o700)
    (home / "history").write_text("\n# 2025-01-01 00:00:00\n+chains list\n")
    os.chmod(home / "history", 0o600)
    child = _spawn(home, "dumb")
    try:
        child.expect_exact("mm> ")
        child.send("\x1b[A")  # up arrow: the previous line from the history file
        child.send("\r")
        child.expect_exact("Ethereum")
        child.expect_exact("mm> ")
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_no_tty_prints_help(tmp_path: Path) -> None:
    # input="" makes stdin a pipe (not a TTY) that is at EOF at once.
    proc = subprocess.run([MM], capture_output=True, text=True, timeout=TIMEOUT,
                          env=_env(tmp_path / "mmhome", "dumb"), input="")
    assert proc.returncode == 0, proc.stderr
    assert "Usage: mm" in proc.stdout
    assert "Commands:" in proc.stdout
    assert "chains" in proc.stdout
    assert "mm>" not in proc.stdout
    assert not (tmp_path / "mmhome" / "history").exists()


# --- in-process units of the shell -------------------------------------------------------------


def _complete(text: str) -> list[str]:
    doc = Document(text, len(text))
    return [c.text for c in MMCompleter().get_completions(doc, CompleteEvent(True))]


def test_completer_top_level_words() -> None:
    words = _complete("")
    tops = {op.path[0] for op in OPERATIONS}
    assert tops <= set(words)
    assert {"help", "exit", "quit"} <= set(words)
    assert _complete("cha") == ["chains"]


def test_completer_walks_the_tree() -> None:
    assert _complete("chains ") == ["list"]
    assert _complete("wallet req") == ["requests"]
    assert set(_complete("wallet requests ")) >= {"list", "watch"}  # + cancel (H5)
    assert _complete("help wallet pass") == ["password"]
    assert _complete("mm cha") == ["chains"]
    # Past the command path (a positional argument) nothing is guessed.
    assert _complete("config set walletTimeoutSeconds ") == []


def test_completer_flags() -> None:
    assert "--json" in _complete("chains list --j")
    assert {"--to", "--token"} <= set(_complete("transfer --t"))
    assert "--chain-id" in _complete("transfer --to 0xabc --ch")
    assert _complete("chains list -f ") == ["json", "text", "toon"]
    assert _complete("chains list --format t") == ["text", "toon"]
    # Hidden flags (secrets refused inline) are not advertised.
    assert "--mnemonic" not in _complete("init --")


def test_split_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert split_line("chains list") == ["chains", "list"]
    assert split_line("mm config set serviceUrl 'http://a b'") == [
        "config", "set", "serviceUrl", "http://a b"]
    assert split_line("   ") == []
    assert split_line('wallet sign-message --message "unclosed') is None
    assert "cannot parse the line" in capsys.readouterr().err


def test_open_history_creates_and_tightens(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    path = open_history(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.root.stat().st_mode) == 0o700
    path.write_text("+chains list\n")
    os.chmod(path, 0o644)
    open_history(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "+chains list\n"  # existing history is kept


def test_history_skips_secret_lines(tmp_path: Path) -> None:
    assert has_secret('init --mnemonic "a b"')
    assert has_secret("login --token=abc:def")
    assert not has_secret("wallet sign-message --message hello")
    path = tmp_path / "history"
    history = SafeFileHistory(str(path))
    history.append_string("chains list")
    history.append_string("init --wallet byok --password hunter2")
    history.append_string("login --token=abc:def")
    text = path.read_text()
    assert "chains list" in text
    assert "hunter2" not in text and "abc:def" not in text
    assert list(history.get_strings()) == ["chains list"]


def test_repl_starts_without_usable_home(tmp_path: Path) -> None:
    """A state folder that cannot be created disables history; the shell still runs."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    child = _spawn(blocker / "mmhome", "dumb")
    try:
        child.expect_exact("history disabled")
        child.expect_exact("mm> ")
        # Whatever the command makes of such a home, the shell comes back to its prompt.
        child.sendline("chains list")
        child.expect_exact("mm> ")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
