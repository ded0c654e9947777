"""Usage and validation errors (exit code 2, HTTP 400): a flag, a tool or an argument the
caller got wrong."""

from __future__ import annotations

from mm_agent.errors.base import MMError

__all__ = [
    "ChainIdMismatch",
    "ConfirmationRequired",
    "InlineSecretRefused",
    "InvalidAddress",
    "InvalidAmount",
    "InvalidCalldata",
    "InvalidChainId",
    "InvalidConfigKey",
    "InvalidConfigValue",
    "InvalidEmail",
    "InvalidFormat",
    "InvalidHash",
    "InvalidJson",
    "InvalidMnemonic",
    "InvalidPolicyYaml",
    "InvalidTimeout",
    "InvalidTransactionPayload",
    "InvalidTypedData",
    "InvalidUrl",
    "MissingFlag",
    "NonceNotAllowed",
    "PayloadFromMismatch",
    "RequestTooLarge",
    "TokenNoAddress",
    "UnknownFlag",
    "UnknownToken",
    "UnknownTool",
    "UnsupportedChain",
    "UsageError",
    "ValidationError",
]


# --- usage and validation (exit code 2) -------------------------------------------------------
class UsageError(MMError):
    code = "USAGE_ERROR"
    http_status = 400
    exit_code = 2


class MissingFlag(UsageError):
    code = "MISSING_FLAG"
    default_hint = "Run the command with --help to see its required flags."


class UnknownFlag(UsageError):
    code = "UNKNOWN_FLAG"
    default_hint = "Run the command with --help to see the flags it takes."


class UnknownTool(UsageError):
    code = "UNKNOWN_TOOL"
    default_hint = "Call one of the tools you were given, by its exact name."


class InlineSecretRefused(UsageError):
    code = "INLINE_SECRET_REFUSED"
    default_hint = (
        "Secrets are never taken on the command line (they would end up in shell history and "
        "process lists). Use MM_MNEMONIC / MM_PASSWORD or the hidden prompt."
    )


class ConfirmationRequired(UsageError):
    code = "CONFIRMATION_REQUIRED"
    default_hint = "Pass --yes to confirm in non-interactive use."


class ValidationError(UsageError):
    code = "INVALID_ARGUMENT"


class InvalidAddress(ValidationError):
    code = "INVALID_EVM_ADDRESS"
    default_hint = (
        "An EVM address is 0x followed by 40 hex characters (EIP-55 checksum if mixed case).")


class InvalidAmount(ValidationError):
    code = "INVALID_AMOUNT"
    default_hint = 'Give a positive decimal amount as a string, e.g. "0.5".'


class InvalidChainId(ValidationError):
    code = "INVALID_CHAIN_ID"
    default_hint = "Chain ids are positive integers; `mm chains list` shows the known ones."


class UnsupportedChain(ValidationError):
    code = "UNSUPPORTED_CHAIN"
    default_hint = "`mm chains list` shows the supported chains."


class InvalidTimeout(ValidationError):
    code = "INVALID_TIMEOUT"
    default_hint = "Timeouts are whole seconds from 1 to 600."


class InvalidUrl(ValidationError):
    code = "INVALID_URL"
    default_hint = "Give an http:// or https:// URL."


class InvalidFormat(ValidationError):
    code = "INVALID_FORMAT"
    default_hint = "Formats: text, json, toon."


class InvalidConfigKey(ValidationError):
    code = "INVALID_CONFIG_KEY"
    default_hint = (
        "Keys: serviceUrl, format, verbose, walletTimeoutSeconds, rpc.<chainId>, "
        "security.denylist, smartTransactions."
    )


class InvalidConfigValue(ValidationError):
    code = "INVALID_CONFIG_VALUE"


class InvalidMnemonic(ValidationError):
    code = "INVALID_MNEMONIC"
    default_hint = "A BIP-39 mnemonic is 12, 15, 18, 21 or 24 English words with a valid checksum."


class InvalidTransactionPayload(ValidationError):
    code = "INVALID_TRANSACTION_PAYLOAD"
    default_hint = (
        'Payload: JSON object {"to": "0x…", "value": "0x…" (hex wei), "data": "0x…"} with '
        "optional gas, nonce, maxFeePerGas, maxPriorityFeePerGas."
    )


class InvalidTypedData(ValidationError):
    code = "INVALID_TYPED_DATA"
    default_hint = "EIP-712 payload: JSON object with types, primaryType, domain and message."


class InvalidCalldata(ValidationError):
    code = "INVALID_CALLDATA"
    default_hint = "Calldata is 0x followed by an even number of hex characters (at least 4 bytes)."


class InvalidHash(ValidationError):
    code = "INVALID_HASH"
    default_hint = "A transaction hash is 0x followed by 64 hex characters."


class InvalidPolicyYaml(ValidationError):
    code = "INVALID_POLICY_YAML"
    default_hint = "`mm wallet policy template` prints a valid policy document."


class InvalidEmail(ValidationError):
    code = "INVALID_EMAIL"
    default_hint = "Give an email address such as alice@example.com."


class ChainIdMismatch(ValidationError):
    code = "CHAIN_ID_MISMATCH"


class PayloadFromMismatch(ValidationError):
    code = "PAYLOAD_FROM_MISMATCH"
    default_hint = "Leave `from` out of the payload, or use the wallet's own address."


class NonceNotAllowed(ValidationError):
    code = "NONCE_NOT_ALLOWED"
    default_hint = ("Leave `nonce` out: the wallet's nonce manager picks it. To replace a "
                    "stuck transaction, cancel or replace its request instead.")


class InvalidJson(ValidationError):
    code = "INVALID_JSON"


class RequestTooLarge(ValidationError):
    code = "REQUEST_TOO_LARGE"
    http_status = 413


class UnknownToken(ValidationError):
    code = "UNKNOWN_TOKEN"
    default_hint = ("`mm token list --chain <chainId>` lists the known token symbols; or pass "
                    "the token's 0x contract address.")


class TokenNoAddress(ValidationError):
    code = "TOKEN_NO_ADDRESS"
    default_hint = "This token has no contract on that chain; pass its 0x address instead."
