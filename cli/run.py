"""Running one operation from the command line: format, logging, context, output.

Kept free of click so that the fast path in ``mm_agent.cli.main`` can run argument-less
operations (``mm chains list``, ``mm init show``) without building the click tree.
"""

from __future__ import annotations

import sys
from typing import Any

from mm_agent.errors import MMError
from mm_agent.local import env as env_vars
from mm_agent.operations.registry import Operation

from .output import emit_result

__all__ = ["execute", "resolve_format"]


def resolve_format(explicit: str | None) -> str:
    explicit = explicit or env_vars.get(env_vars.FORMAT)
    if explicit:
        from mm_agent.local.config import parse_format

        return parse_format(explicit)
    from mm_agent.local.state import Home

    try:
        stored = (Home.from_env().read_json("config.json", {}) or {}).get("format")
    except MMError:
        stored = None  # a broken config.json is reported by the command itself
    if stored in ("text", "json", "toon"):
        return str(stored)
    return "text" if sys.stdout.isatty() else "json"


def execute(op: Operation, raw: dict[str, Any], *, fmt: str | None, verbose: bool) -> None:
    from mm_agent.operations.context import Context

    from .terminal import TerminalConsole

    out_fmt = resolve_format(fmt)
    if verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = TerminalConsole(out_fmt)
    ctx = Context(console=console,
                  approval_hook=_tty_approval if console.interactive else None)
    try:
        data = op.run(ctx, raw)
    except MMError as err:
        if not op.quiet:
            raise
        # Its stdout is a protocol (`mm mcp` on stdio): a client would parse an error
        # envelope there as a protocol message. The error (envelope or text, as the format
        # says) goes to stderr; the exit code is non-zero.
        import contextlib

        import click

        from .output import emit_error

        with contextlib.redirect_stdout(sys.stderr):
            emit_error(err, out_fmt)
        raise click.exceptions.Exit(err.exit_code or 1) from None
    # A command that serves a protocol on stdout (`mm mcp`) prints nothing after it; one that
    # showed its result while it ran (a foreground devnet) does not print it twice.
    if op.quiet or console.shown:
        return
    emit_result(data, out_fmt)


def _tty_approval(preview: dict[str, Any], reason: str) -> bool:
    """BYOK "human approval": show what would happen and ask (contract §5)."""
    import click

    from mm_agent.console import hold_line

    from .output import render_text

    sim = preview.get("simulation") or {}
    shown = {
        "intent": preview.get("intent"),
        "why": reason,
        "scan": {k: preview.get("scan", {}).get(k) for k in ("resultType", "reason",
                                                              "description")},
        "balanceChanges": sim.get("balanceChanges") or [],
        "exposures": sim.get("exposures") or [],
    }
    fees = preview.get("fees") or {}
    if fees:
        # Wei: the cap signed, the ceiling a stuck-tx replacement may reach, the most it costs.
        shown["fees"] = {k: fees.get(k) for k in ("gasLimit", "maxFeePerGas",
                                                  "maxReplacementFeePerGas", "worstCaseFeeWei")}
    if preview.get("agentNote"):
        # The agent's own words: below the engine's decoding, and labelled as the agent's.
        shown[str(preview.get("agentNoteLabel") or "agentNote")] = preview["agentNote"]
    # The review and its question own the line: the spinner of the command stays quiet.
    with hold_line():
        click.echo("This request needs your review:\n" + render_text(shown), err=True)
        return bool(click.confirm("Sign and send it?", default=False, err=True))
