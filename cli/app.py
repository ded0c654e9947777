"""The `mm` command: a click tree generated from the operation registry.

Commands are built lazily: ``mm chains list`` imports neither pydantic nor any args model, and
``mm --help`` lists commands from the registry's summaries without building them. Options of a
command come from the fields of its args model; validation (and every error code) is the
model's, so the CLI, the agent tools and the function-calling schemas behave the same.

We use click directly (Typer's own base) rather than Typer: Typer's import alone costs ~100 ms
on these machines, which would eat the whole start-up budget of the fast commands.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from mm_agent.errors import InlineSecretRefused, MissingFlag, MMError, UnknownFlag, UsageError
from mm_agent.operations.registry import OPERATIONS, Operation, children, find

from .output import emit_error
from .run import execute, resolve_format
from .version import version_line

__all__ = ["build_root", "main", "run_argv"]

_GLOBAL_PARAMS = ("fmt", "as_json", "as_toon", "verbose")
_FLAG_FORM = "__flag"  # dest suffix of the flag form of a positional argument

# Flags that would carry a secret on the command line (visible in `ps`, shell history, logs).
# The reference CLI accepts some of them (`transfer --password`, `wallet password set --new`);
# we never do, and say so with INLINE_SECRET_REFUSED rather than UNKNOWN_FLAG.
SECRET_FLAGS = frozenset({"--password", "--mnemonic", "--new", "--current", "--new-password",
                          "--current-password", "--private-key", "--secret"})
_SECRET_ENV = {"--password": "MM_PASSWORD", "--current": "MM_PASSWORD",
               "--current-password": "MM_PASSWORD", "--new": "MM_NEW_PASSWORD",
               "--new-password": "MM_NEW_PASSWORD", "--mnemonic": "MM_MNEMONIC"}


def _global_options() -> list[click.Parameter]:
    return [
        click.Option(["-f", "--format", "fmt"], default=None, metavar="text|json|toon",
                     help="Output format (default: text on a TTY, json otherwise)."),
        click.Option(["--json", "as_json"], is_flag=True, default=False, help="Same as -f json."),
        click.Option(["--toon", "as_toon"], is_flag=True, default=False, help="Same as -f toon."),
        click.Option(["-v", "--verbose"], is_flag=True, default=False, help="Log to stderr."),
    ]


def _record_globals(ctx: click.Context, values: dict[str, Any]) -> None:
    meta = ctx.find_root().meta.setdefault("mm", {})
    if values.get("fmt"):
        meta["fmt"] = values["fmt"]
    if values.get("as_json"):
        meta["fmt"] = "json"
    if values.get("as_toon"):
        meta["fmt"] = "toon"
    if values.get("verbose"):
        meta["verbose"] = True


def _is_list(annotation: Any) -> bool:
    """``list[str]`` or ``list[str] | None``."""
    import types
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(annotation) if a is not type(None))
    return typing.get_origin(annotation) is list


def _params_for(op: Operation) -> list[click.Parameter]:
    """click parameters from the args model's fields (all strings; the model validates)."""
    model = op.args_model()
    params: list[click.Parameter] = []
    if model is None:
        return params
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        help_text = field.description or ""
        if extra.get("cli_argument"):
            params.append(click.Argument([name], required=False))
            if extra.get("cli_flags"):
                # Both forms, as the reference CLI's users type them (`watch --polling-id X`)
                # and as ours did (`watch X`); _merge_flag_forms folds them into one value.
                params.append(click.Option([*extra["cli_flags"], name + _FLAG_FORM],  # type: ignore[misc]
                                           default=None, help=help_text,
                                           metavar=extra.get("cli_metavar", "TEXT")))
            continue
        flags = list(extra.get("cli_flags") or ["--" + name.replace("_", "-")])  # type: ignore[arg-type]
        hidden = bool(extra.get("cli_hidden"))
        if field.annotation is bool:
            params.append(click.Option([*flags, name], is_flag=True, default=None,
                                       help=help_text, hidden=hidden))
        elif _is_list(field.annotation):
            # A list field is a repeatable flag (`--rpc A --rpc B`); not given → None.
            params.append(click.Option([*flags, name], multiple=True, default=None,
                                       help=help_text, hidden=hidden,
                                       metavar=extra.get("cli_metavar", "TEXT"),
                                       callback=lambda _c, _p, v: list(v) or None))
        else:
            params.append(click.Option([*flags, name], default=None, help=help_text,
                                       hidden=hidden, metavar=extra.get("cli_metavar", "TEXT")))
    return params


def _merge_flag_forms(values: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in values.items() if not k.endswith(_FLAG_FORM)}
    for key, value in values.items():
        if not key.endswith(_FLAG_FORM) or value is None:
            continue
        name = key[: -len(_FLAG_FORM)]
        if out.get(name) is not None and out[name] != value:
            raise UsageError(f"Two different values for --{name.replace('_', '-')}.",
                             hint="Give it once, as a flag or as the positional argument.")
        out[name] = value
    return out


def _invoke(op: Operation, values: dict[str, Any]) -> None:
    ctx = click.get_current_context()
    _record_globals(ctx, values)
    values = _merge_flag_forms(values)
    raw = {k: v for k, v in values.items() if k not in _GLOBAL_PARAMS and v is not None}
    _execute(op, raw)


def _execute(op: Operation, raw: dict[str, Any]) -> None:
    meta = click.get_current_context().find_root().meta.get("mm", {})
    execute(op, raw, fmt=meta.get("fmt"), verbose=bool(meta.get("verbose")))


class OperationCommand(click.Command):
    def __init__(self, op: Operation) -> None:
        self.op = op
        super().__init__(
            op.path[-1], params=[*_params_for(op), *_global_options()],
            callback=lambda **kw: _invoke(op, kw), help=op.description, short_help=op.summary,
        )


class LazyGroup(click.Group):
    """A group whose subcommands are built from the registry only when used."""

    def __init__(self, prefix: tuple[str, ...], op: Operation | None = None, **kwargs: Any) -> None:
        self.prefix = prefix
        self.op = op
        params = [*(_params_for(op) if op else []), *_global_options()]
        super().__init__(
            prefix[-1] if prefix else "mm", params=params, callback=self._callback,
            invoke_without_command=True, no_args_is_help=False,
            help=(op.description if op else kwargs.pop("help", None)),
            short_help=op.summary if op else None, **kwargs,
        )
        # A group that is also a command with a positional (`mm predict redeem <id> --wait`,
        # beside `mm predict redeem list`): options may follow the positional. Its
        # subcommands are still found first by the parent's resolve_command.
        if any(isinstance(p, click.Argument) for p in params):
            self.allow_interspersed_args = True

    def _callback(self, **values: Any) -> None:
        ctx = click.get_current_context()
        _record_globals(ctx, values)
        if ctx.invoked_subcommand is not None:
            return
        if self.op is not None:
            _invoke(self.op, values)
            return
        # A bare group (e.g. `mm wallet`): show its commands.
        click.echo(ctx.get_help())

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(children(self.prefix))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        path = (*self.prefix, cmd_name)
        if cmd_name not in children(self.prefix):
            return None
        has_children = any(len(o.path) > len(path) and o.path[: len(path)] == path
                           for o in OPERATIONS)
        op = find(path)
        if has_children:
            return LazyGroup(path, op)
        assert op is not None
        return OperationCommand(op)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # `mm init show`: when a subcommand follows, the group's own options (and the args
        # model behind them) are not needed, so do not load them.
        if len(args) >= 2:
            path = (*self.prefix, args[0])
            op = find(path)
            if op is not None and args[1] in children(path):
                return args[0], LazyGroup(path, None), args[1:]
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = sorted(children(self.prefix).items())
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def build_root() -> LazyGroup:
    root = LazyGroup((), help="mm: a self-hostable agent wallet (BYOK and server wallets).")
    root.params.insert(0, click.Option(
        ["--version"], is_flag=True, expose_value=False, is_eager=True,
        help="Print the version.",
        callback=lambda c, _p, v: (click.echo(version_line()), c.exit()) if v else None,
    ))
    return root


def _pre_scan_format(argv: list[str]) -> str | None:
    """The format asked for on the command line, found before click parses it (for errors)."""
    fmt = None
    for i, arg in enumerate(argv):
        if arg == "--json":
            fmt = "json"
        elif arg == "--toon":
            fmt = "toon"
        elif arg in ("-f", "--format") and i + 1 < len(argv):
            fmt = argv[i + 1]
        elif arg.startswith("--format="):
            fmt = arg.split("=", 1)[1]
    return fmt


def _translate_click(exc: click.ClickException) -> MMError:
    if isinstance(exc, click.NoSuchOption):
        flag = exc.option_name.split("=", 1)[0]
        if flag in SECRET_FLAGS:
            # Never echo the value: it is a secret typed where it should not have been.
            env = _SECRET_ENV.get(flag)
            return InlineSecretRefused(
                f"{flag} is not accepted on the command line.",
                hint=(f"Set {env} or run the command on a terminal to be prompted." if env
                      else None))
        return UnknownFlag(exc.format_message())
    if isinstance(exc, click.MissingParameter):
        return MissingFlag(exc.format_message())
    if isinstance(exc, click.UsageError) and "No such command" in exc.format_message():
        return UsageError(exc.format_message(), hint="Run `mm --help` for the command list.")
    return UsageError(exc.format_message())


def run_argv(argv: list[str]) -> int:
    """Run one command line in-process and return its exit code (used by main and the REPL)."""
    root = build_root()
    try:
        fmt = resolve_format(_pre_scan_format(argv))
    except MMError as err:
        emit_error(err, "json" if not sys.stdout.isatty() else "text")
        return err.exit_code
    try:
        rv = root.main(args=argv, prog_name="mm", standalone_mode=False)
        # Not standalone, click returns the code of a ``click.exceptions.Exit`` instead of
        # raising it (``cli/run.py``: a ``quiet`` operation's error, already on stderr).
        return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
    except MMError as err:
        emit_error(err, fmt)
        return err.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        sys.stderr.write("Aborted.\n")
        return 1
    except click.ClickException as exc:
        err = _translate_click(exc)
        emit_error(err, fmt)
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    except Exception as exc:
        # The outermost edge: a bug must still end as an envelope, not a bare traceback in
        # json mode. The traceback goes to stderr with -v.
        if "-v" in argv or "--verbose" in argv:
            import traceback

            traceback.print_exc()
        err = MMError(f"Internal error ({type(exc).__name__}).",
                      hint="Re-run with -v for details; please report it.")
        emit_error(err, fmt)
        return 1


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-V"]):
        # Fast path: nothing else to load.
        sys.stdout.write(version_line() + "\n")
        return
    # httpx imports its own command line (rich, pygments: ~30 ms) when it is imported; mm never
    # runs it. A None entry makes that import fail, which httpx handles (bench/cli_startup.py).
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    if not argv:
        if sys.stdin.isatty() and sys.stdout.isatty():
            from .repl import run_repl

            sys.exit(run_repl(run_argv))
        argv = ["--help"]
    sys.exit(run_argv(argv))


if __name__ == "__main__":
    main()
