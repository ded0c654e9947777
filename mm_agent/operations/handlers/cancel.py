"""`mm wallet requests cancel --polling-id ID` (agent-facing, writes).

Server wallet: the service cancels (``mm_agent/server/services/cancel.py``). BYOK: requests finish
before the command returns, so only a stuck ``SUBMITTED`` transaction is left to cancel: a
replacement 0-value self-transfer with the same nonce and higher fees goes through the
pipeline (preview, gate, sign, submit) and the request ends ``DENIED`` / ``TX_CANCELLED``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mm_agent.local.request_log import WalletRequest

from ..context import Context

__all__ = ["RequestsCancelArgs", "cancel_byok", "requests_cancel"]


class RequestsCancelArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    polling_id: str = Field(description="pollingId of the request to cancel.",
                            json_schema_extra={"cli_argument": True,
                                               "cli_flags": ["--polling-id"]})


def requests_cancel(ctx: Context, args: RequestsCancelArgs) -> dict[str, Any]:
    # Both modes: ``wallet.requests.cancel`` (BYOK: ``mm_agent.wallets.byok.cancel``).
    return ctx.wallet.requests.cancel(args.polling_id).to_dict()


def cancel_byok(wallet: Any, polling_id: str) -> WalletRequest:
    """Kept for callers of the earlier name: ``wallet.requests.cancel`` on a BYOK wallet."""
    from mm_agent.wallets.byok.cancel import cancel_request

    return cancel_request(wallet, polling_id)
