"""The interactive `mm` shell (contract §2): `mm` with no arguments on a TTY.

Each line is split like a shell would (``shlex``) and run in-process through
:func:`mm_agent.cli.app.run_argv` (given to :func:`run_repl`), so a line behaves exactly like
``mm <line>``. History lives in ``MM_HOME/history`` (0600: lines may name addresses and
amounts); tab completion follows the operation registry. Nothing heavy is imported here: the
registry is a plain table, and an operation's own modules load only when a line runs it (or
when its flags are tab-completed).
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from mm_agent.errors import MMError
from mm_agent.local.state import FILE_MODE, Home
from mm_agent.operations.registry import Operation, children, find
from mm_agent.version import __version__

__all__ = ["MMCompleter", "SafeFileHistory", "has_secret", "open_history", "run_repl",
           "split_line"]

PROMPT = "mm> "
EXIT_WORDS = frozenset({"exit", "quit"})
# Words the shell understands itself, on top of the command tree.
SHELL_WORDS = {"help": "Show help (`help chains list` for one command).",
               "exit": "Leave the shell.", "quit": "Leave the shell."}
GLOBAL_FLAGS = {"--format": "text|json|toon", "--json": "Same as -f json.",
                "--toon": "Same as -f toon.", "--verbose": "Log to stderr.",
                "--help": "Show help for this command."}
FORMATS = ("text", "json", "toon")
# Lines carrying these flags are kept out of the history file: the command refuses inline
# secrets (INLINE_SECRET_REFUSED), but by then the line would already be on disk.
SECRET_FLAGS = ("--mnemonic", "--password", "--new-password", "--private-key", "--token",
                "--secret")


@cache
def _op_flags(op: Operation) -> dict[str, str]:
    """An operation's own flags. Imports its args model (pydantic), hence only on demand."""
    try:
        model = op.args_model()
    except Exception:  # a broken model must not break typing in the shell
        return {}
    if model is None:
        return {}
    flags: dict[str, str] = {}
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("cli_argument") or extra.get("cli_hidden"):
            continue
        names = extra.get("cli_flags") or ["--" + name.replace("_", "-")]
        for flag in names:  # type: ignore[union-attr]
            if str(flag).startswith("--"):
                flags[str(flag)] = field.description or ""
    return flags


class MMCompleter(Completer):
    """Completes command words from the registry, then flags of the command reached."""

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        text = document.text_before_cursor
        words = text.split()
        current = "" if not words or text[-1].isspace() else words[-1]
        before = words if not current else words[:-1]
        if before and before[0] == "mm":  # people paste `mm …` out of habit
            before = before[1:]
        if before and before[0] == "help":
            before = before[1:]
        elif not before:
            yield from self._matches(current, {**children(()), **SHELL_WORDS})
            return

        if before and before[-1] in ("-f", "--format"):
            yield from self._matches(current, dict.fromkeys(FORMATS, "output format"))
            return

        # The command path is the leading words that walk the tree; the rest are arguments.
        path: tuple[str, ...] = ()
        rest: list[str] = []
        for word in before:
            if not rest and not word.startswith("-") and word in children(path):
                path = (*path, word)
            else:
                rest.append(word)

        if current.startswith("-"):
            op = find(path)
            flags = {**(_op_flags(op) if op else {}), **GLOBAL_FLAGS}
            yield from self._matches(current, flags)
        elif not rest:
            yield from self._matches(current, children(path))

    @staticmethod
    def _matches(current: str, options: dict[str, str]) -> Iterable[Completion]:
        for word in sorted(options):
            if word.startswith(current):
                yield Completion(word, start_position=-len(current), display_meta=options[word])


def has_secret(line: str) -> bool:
    """Whether a line passes a secret-bearing flag (``--token X`` or ``--token=X``)."""
    return any(word.split("=", 1)[0] in SECRET_FLAGS for word in line.split())


class SafeFileHistory(FileHistory):
    """File history that never records a line carrying a secret flag."""

    def append_string(self, string: str) -> None:
        if not has_secret(string):
            super().append_string(string)


def open_history(home: Home) -> Path:
    """Create ``MM_HOME/history`` 0600 *before* prompt_toolkit opens it (it would use 0644)."""
    home.ensure()
    path = home.path("history")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        # O_CREAT's mode only applies to new files (and is masked by the umask): tighten always.
        if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def split_line(line: str) -> list[str] | None:
    """The words of a line, or None (after printing why) when quoting is broken."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        sys.stderr.write(f"Error [USAGE_ERROR]: cannot parse the line: {exc}.\n"
                         "Hint: close quotes, or escape them with a backslash.\n")
        sys.stderr.flush()
        return None
    if words and words[0] == "mm":
        words = words[1:]
    return words


def _run_line(run_argv: Callable[[list[str]], int], words: list[str]) -> int:
    if words[0] == "help":
        words = [*words[1:], "--help"]
    try:
        return run_argv(words)
    except SystemExit as exc:  # a command that exits (e.g. a foreground devnet) ends only itself
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    except Exception as exc:  # a bug in one command must not take the shell down
        sys.stderr.write(f"Error [INTERNAL_ERROR]: {type(exc).__name__}: {exc}\n")
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def run_repl(run_argv: Callable[[list[str]], int]) -> int:
    """Read-eval-print until `exit`, `quit` or Ctrl-D; returns the shell's exit code (0).

    ``run_argv`` runs one command line and returns its exit code (``mm_agent.cli.app.run_argv``,
    passed in by the caller so that the shell does not import the app that starts it)."""
    history: History
    try:
        history = SafeFileHistory(str(open_history(Home.from_env())))
    except (MMError, OSError) as exc:
        # A state folder we may not use must not keep the shell from starting.
        message = exc.message if isinstance(exc, MMError) else str(exc)
        sys.stderr.write(f"warning: history disabled: {message}\n")
        history = InMemoryHistory()
    session: PromptSession[str] = PromptSession(
        history=history,
        completer=MMCompleter(),
        # Bash-like: complete on Tab only, so the screen stays quiet while typing.
        complete_while_typing=False,
    )
    print(f"mm {__version__}: type `help` for commands, `exit` or Ctrl-D to leave.")
    while True:
        try:
            line = session.prompt(PROMPT)
        except KeyboardInterrupt:  # Ctrl-C clears the line, like a shell
            continue
        except EOFError:  # Ctrl-D
            print()
            return 0
        words = split_line(line)
        if not words:
            continue
        if words[0] in EXIT_WORDS:
            return 0
        _run_line(run_argv, words)
