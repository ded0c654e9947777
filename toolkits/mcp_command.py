"""`mm mcp`: serve the agent tools over MCP (an operator command, never an agent tool).

The registry names this handler by dotted path (``mm_agent.toolkits.mcp_command:serve_command``),
so the engine never imports the toolkits. The server itself (``mm_agent.toolkits.mcp_server``)
needs the ``mcp`` extra and is imported only when the command runs: ``mm mcp --help``,
``mm --version`` and ``mm chains list`` never load it.

The operation is ``quiet``: the CLI prints no result envelope after serving (on stdio it would
land on the client's pipe after the session ended), and an error (a locked vault, a busy port)
is printed on stderr, never stdout, with a non-zero exit (``cli/run.py``): an MCP client
would parse anything on stdout as protocol. The ``--http`` bearer token: ``MM_MCP_TOKEN``, or
the 0600 ``MM_HOME/mcp-token.json`` generated on the first start (``mcp_server.http_token``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mm_agent.operations.context import Context

__all__ = ["McpArgs", "serve_command"]


class McpArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    http: bool = Field(False, description="Serve streamable HTTP on loopback instead of stdio "
                                          "(bearer token required, Origin checked).")
    host: str = Field("127.0.0.1", description="With --http: loopback address to listen on "
                                               "(127.0.0.1, ::1 or localhost).")
    port: int = Field(8766, ge=1, le=65535, description="With --http: TCP port (1-65535).",
                      json_schema_extra={"cli_metavar": "INTEGER"})
    prefix: str = Field("", max_length=20, pattern=r"^[a-zA-Z0-9_-]*$",
                        description="Prefix for every tool name (e.g. mm_).")
    read_only: bool = Field(False, description="Serve only the tools that never write.")
    allow_origin: str | None = Field(
        None, description="With --http: extra browser origins allowed, comma-separated "
                          "(loopback origins on this port are always allowed).",
        json_schema_extra={"cli_metavar": "ORIGIN[,ORIGIN…]"})


def serve_command(ctx: Context, args: McpArgs) -> dict[str, Any]:
    """Serve until the client disconnects (stdio) or Ctrl-C (HTTP); returns how it was served."""
    try:
        from mm_agent.toolkits import mcp_server
    except ImportError as exc:  # the `mcp` extra is missing
        from mm_agent.errors import UsageError

        raise UsageError(f"`mm mcp` needs the MCP SDK ({exc.name} is not installed).",
                         hint="pip install 'mm-agent[mcp]'") from None

    # stdio: stdout is the protocol, so every log line goes to stderr (and only warnings,
    # unless -v asked for more: the CLI then configured logging already).
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    wallet = mcp_server.load_wallet(ctx.home, ctx.config)
    options = mcp_server.McpOptions(prefix=args.prefix, read_only=args.read_only)
    if args.http:
        origins = [o.strip() for o in (args.allow_origin or "").split(",") if o.strip()]
        mcp_server.serve_http(wallet, options, host=args.host, port=args.port,
                              extra_origins=origins, home=ctx.home)
        return {"served": "http", "host": args.host, "port": args.port}
    mcp_server.serve_stdio(wallet, options)
    return {"served": "stdio"}
