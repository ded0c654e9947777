"""Messages name flags and commands that exist, and read cleanly (issue 11).

Every ``--flag`` named in a sentence of the code base (error messages, hints, help texts,
notices) must be a flag of the generated CLI; inside a backticked command (`` `mm wallet
requests watch --polling-id X` ``) it must be a flag of that very command. Error texts end with
one closing mark, never "..".
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from mm_agent.cli.app import build_root

from mm_agent.errors import MMError, UnknownToken, ValidationError
from mm_agent.errors import _tidy as tidy
from mm_agent.operations.registry import OPERATIONS, find

REPO = Path(__file__).resolve().parents[2]
SOURCES = [*(REPO / "mm_agent").rglob("*.py"), *(REPO / "cli").glob("*.py")]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
BACKTICKED = re.compile(r"`(mm [^`]+)`")


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = build_root()
    ctx = click.Context(cmd)
    for word in path:
        assert isinstance(cmd, click.Group)
        nxt = cmd.get_command(ctx, word)
        assert nxt is not None, path
        cmd = nxt
    return cmd


def _flags(cmd: click.Command) -> set[str]:
    return {o for p in cmd.params if isinstance(p, click.Option)
            for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}


FLAGS_BY_PATH = {op.path: _flags(_command(op.path)) for op in OPERATIONS}
ALL_FLAGS = set().union(*FLAGS_BY_PATH.values()) | {"--version", "--help"}


def _sentences() -> Iterator[tuple[str, int, str]]:
    """String constants that read as text (argv lists of single words are not messages)."""
    for path in SOURCES:
        tree = ast.parse(path.read_text(), filename=str(path))
        # Docstrings talk about the code (and other programs' flags, e.g. anvil's), not to users.
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                  ast.AsyncFunctionDef))
                and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if id(node) in docs:
                continue
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "{}"
                               for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            else:
                continue
            if " " in text.strip():
                yield str(path.relative_to(REPO)), node.lineno, text


def _resolve(words: list[str]) -> tuple[str, ...] | None:
    """The longest registry path that the words of a backticked `mm …` start with."""
    best = None
    for n in range(1, len(words) + 1):
        if find(tuple(words[:n])) is not None:
            best = tuple(words[:n])
    return best


def test_every_flag_named_in_a_message_exists() -> None:
    wrong: list[str] = []
    for where, line, text in _sentences():
        # Flags of other programs' commands (`pg_dump --file …`) are theirs, not ours.
        ours = re.sub(r"`(?!mm )[a-z_][\w.-]* [^`]*`", "", text)
        for flag in FLAG.findall(ours):
            if flag not in ALL_FLAGS:
                wrong.append(f"{where}:{line}: {flag} in {text[:80]!r}")
        for cmd in BACKTICKED.findall(text):
            words = cmd.split()[1:]
            plain = [w for w in words if not w.startswith(("-", "<"))]
            path = _resolve(plain[: len(plain)])
            if path is None:
                if plain and plain[0] not in {p[0] for p in FLAGS_BY_PATH} and "{}" not in cmd:
                    wrong.append(f"{where}:{line}: no command `{cmd}`")
                continue
            for flag in FLAG.findall(cmd):
                if flag not in FLAGS_BY_PATH[path] | {"--help"}:
                    wrong.append(f"{where}:{line}: `{cmd}` has no {flag}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_wrong_flag() -> None:
    # The test above would catch `mm transfer --amt`: it really looks at the command's flags.
    assert "--amount" in FLAGS_BY_PATH[("transfer",)]
    assert "--amt" not in ALL_FLAGS
    assert "--polling-id" in FLAGS_BY_PATH[("wallet", "requests", "watch")]


@pytest.mark.parametrize(("raw", "clean"), [
    ("Cannot reach the RPC endpoint http://x: timed out.", None),
    ("Cannot reach the RPC endpoint http://x: Connection refused..", None),
    ("--chain-id: Value error, not a chain id..", None),
    ("Waiting...", "Waiting..."),
    ("Is this right?.", "Is this right?"),
    ("Approval required: fee above the estimate (1 wei).. Nothing was signed.",
     "Approval required: fee above the estimate (1 wei). Nothing was signed."),
    ("Range 1..5 stays.", "Range 1..5 stays."),
])
def test_no_doubled_punctuation(raw: str, clean: str | None) -> None:
    err = ValidationError(raw, hint="Run `mm chains list`..")
    assert not re.search(r"(?<!\.)\.\.$", err.message), err.message
    assert err.hint == "Run `mm chains list`."
    if clean:
        assert err.message == clean
    assert tidy(raw) == err.message


def test_no_default_hint_or_literal_message_ends_doubled() -> None:
    def walk(cls: type[MMError]) -> Iterator[type[MMError]]:
        yield cls
        for sub in cls.__subclasses__():
            yield from walk(sub)

    for cls in walk(MMError):
        if cls.default_hint:
            assert not re.search(r"[.!?:]\s*\.$", cls.default_hint.replace("...", "")), cls
    for where, line, text in _sentences():
        assert not re.search(r"(?<!\.)[.!?]\.$", text), f"{where}:{line}: {text!r}"


def test_unknown_token_hint_names_a_listing_command() -> None:
    hint = UnknownToken("Unknown token 'FOO' on chain 1 (Ethereum).").hint or ""
    cmd = BACKTICKED.search(hint)
    assert cmd, hint
    words = [w for w in cmd.group(1).split()[1:] if not w.startswith(("-", "<"))]
    assert _resolve(words) == ("token", "list")
