"""Markets: prediction markets (``mm predict``), swaps, prices and allowances (``mm swap``,
``mm price``, ``mm wallet allowances``), contract §10."""

from __future__ import annotations

from mm_agent.errors.base import MMError
from mm_agent.errors.usage import ValidationError

__all__ = [
    "AmountTooHigh",
    "BridgeUnsupported",
    "InvalidAssetId",
    "InvalidInterval",
    "InvalidSwapParams",
    "InvalidTimestamp",
    "NoQuotes",
    "PredictAuthError",
    "PredictBackendUnavailable",
    "PredictError",
    "PredictGeoblockUnavailable",
    "PredictGeoblocked",
    "PredictNotFound",
    "PredictSetupRequired",
    "PriceUnavailable",
    "QuoteAlreadyExecuted",
    "QuoteExpired",
    "QuoteNotFound",
    "SwapError",
    "SwapPriceMoved",
    "SwapProtocolUnavailable",
]


# --- prediction markets (`mm predict`, contract §10) ------------------------------------------
class PredictError(MMError):
    """A prediction-market back end (the devnet market service, Gamma/CLOB) refused or failed."""

    code = "PREDICT_ERROR"
    http_status = 422


class PredictSetupRequired(PredictError):
    code = "PREDICT_SETUP_REQUIRED"
    http_status = 409
    default_hint = "Run `mm predict setup --wait`, then check `mm predict status`."


class PredictGeoblocked(PredictError):
    code = "PREDICT_GEOBLOCKED"
    http_status = 403
    default_hint = "Predict is not available from this region."


class PredictGeoblockUnavailable(PredictError):
    """The geoblock check of a real network could not be made: the commands that open a
    position fail closed (nothing is signed)."""

    code = "PREDICT_GEOBLOCK_UNAVAILABLE"
    http_status = 503
    default_hint = ("Retry when the check answers (`mm predict geoblock`); its base URL is the "
                    "config's predict.<mode>.geoblockUrl.")


class PredictBackendUnavailable(PredictError):
    code = "PREDICT_BACKEND_UNAVAILABLE"
    http_status = 503
    default_hint = "Only the devnet back end is built: `mm predict mode devnet`."


class PredictNotFound(PredictError):
    code = "PREDICT_NOT_FOUND"
    http_status = 404
    default_hint = "Find markets with `mm predict markets list`."


class PredictAuthError(PredictError):
    code = "PREDICT_AUTH_FAILED"
    http_status = 401
    default_hint = "Re-derive the trading credentials with `mm predict setup`."


# --- swaps, prices and allowances (`mm swap`, `mm price`, `mm wallet allowances`, §10) --------
class SwapError(MMError):
    """A swap could not be quoted or executed."""

    code = "SWAP_ERROR"
    http_status = 422


class InvalidSwapParams(SwapError):
    code = "INVALID_SWAP_PARAMS"
    http_status = 400
    exit_code = 2


class BridgeUnsupported(SwapError):
    code = "BRIDGE_UNSUPPORTED"
    default_hint = ("Only same-chain swaps are supported: leave out --to-chain or give the same "
                    "chain as --from-chain.")


class NoQuotes(SwapError):
    code = "NO_QUOTES"
    default_hint = "No pool trades this pair on this chain; `mm token list` shows the tokens."


class AmountTooHigh(SwapError):
    code = "AMOUNT_TOO_HIGH"


class QuoteNotFound(SwapError):
    code = "QUOTE_NOT_FOUND"
    http_status = 404
    default_hint = "Get a quote with `mm swap quote`."


class QuoteExpired(SwapError):
    code = "QUOTE_EXPIRED"
    http_status = 410
    default_hint = "Get a fresh quote with `mm swap quote`."


class QuoteAlreadyExecuted(SwapError):
    code = "QUOTE_ALREADY_EXECUTED"
    http_status = 409
    default_hint = "Follow it with `mm swap status --quote-id`."


class SwapPriceMoved(SwapError):
    """The pool moved since the quote: the swap would now return less than its minimum."""

    code = "SWAP_PRICE_MOVED"
    http_status = 409
    default_hint = ("Nothing was signed. Get a fresh quote with `mm swap quote`, or allow more "
                    "slippage with --slippage.")


class SwapProtocolUnavailable(SwapError):
    """The swap contracts of this chain are not where the address table says (no code)."""

    code = "SWAP_PROTOCOL_UNAVAILABLE"


class InvalidAssetId(ValidationError):
    code = "INVALID_ASSET_ID"
    default_hint = ("Use CAIP-19 ids such as eip155:1/slip44:60 (native) or "
                    "eip155:1/erc20:0x… (token).")


class InvalidInterval(ValidationError):
    code = "INVALID_INTERVAL"


class InvalidTimestamp(ValidationError):
    code = "INVALID_TIMESTAMP"


class PriceUnavailable(MMError):
    code = "PRICE_UNAVAILABLE"
    http_status = 422
