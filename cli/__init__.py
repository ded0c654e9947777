"""The `mm` command line (import name ``mm_agent.cli``).

``main`` is the console-script entry point. ``--version`` is answered before anything else is
imported, and an operation that takes no arguments (``mm chains list``, ``mm init show``,
``mm doctor``…) is run straight from the registry with the same handler, envelope and exit
code as through the click tree, which is only built for everything else.
"""

from __future__ import annotations

import sys

from .version import version_line

__all__ = ["main", "version_line"]

_FORMAT_FLAGS = {"--json": "json", "--toon": "toon"}


def _fast_split(args: list[str]) -> tuple[list[str], str | None, bool] | None:
    """Words, format and verbosity if ``args`` hold only words and global flags."""
    words: list[str] = []
    fmt: str | None = None
    verbose = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _FORMAT_FLAGS:
            fmt = _FORMAT_FLAGS[arg]
        elif arg in ("-f", "--format") and i + 1 < len(args):
            fmt = args[i + 1]
            i += 1
        elif arg.startswith("--format="):
            fmt = arg.split("=", 1)[1]
        elif arg in ("-v", "--verbose"):
            verbose = True
        elif arg.startswith("-"):
            return None  # --help and any other flag: the full parser decides
        else:
            words.append(arg)
        i += 1
    return words, fmt, verbose


def _run_fast(args: list[str]) -> int | None:
    split = _fast_split(args)
    if split is None:
        return None
    words, fmt, verbose = split
    from mm_agent.operations.registry import OPERATIONS, find

    op = find(tuple(words))
    if op is None or op.args is not None:
        return None
    if any(len(o.path) > len(op.path) and o.path[: len(op.path)] == op.path
           for o in OPERATIONS):
        return None  # also a group (`mm tx`): the full parser decides
    from mm_agent.errors import MMError

    from .output import emit_error
    from .run import execute, resolve_format

    try:
        execute(op, {}, fmt=fmt, verbose=verbose)
        return 0
    except MMError as err:
        try:
            out = resolve_format(fmt)
        except MMError:
            out = "json" if not sys.stdout.isatty() else "text"
        emit_error(err, out)
        return err.exit_code


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        sys.stdout.write(version_line() + "\n")
        return
    if args:
        code = _run_fast(args)
        if code is not None:
            sys.exit(code)
    from .app import main as app_main

    app_main(args)
