"""Wallet, signing, transaction and read-only operations (agent-facing unless declared not)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mm_agent.errors import MMError
from mm_agent.local import env as env_vars
from mm_agent.local.request_log import WalletRequest

from ..context import Context
from ..fields import HASH_PATTERN, Address, Amount, ChainId, ChainIds, OptionalTimeout

_STRICT = ConfigDict(extra="forbid")

_WAIT = Field(False, description="Block until the request is final (server wallet); BYOK "
              "requests always complete before returning.")
_DRY = Field(False, description="Return the security preview (decode, simulation, scan, "
             "policy) without signing or broadcasting anything.")


class WalletCreateArgs(BaseModel):
    model_config = _STRICT
    name: str | None = Field(None, description="Label for the new account.")
    trading_mode: str | None = Field(None, description="guard or beast (server wallet only).",
                                     json_schema_extra={"enum": ["guard", "beast"]})


class WalletSelectArgs(BaseModel):
    model_config = _STRICT
    # As in the reference CLI: `wallet select --address 0x…` or `--name N`; the positional
    # `wallet select 0x…` is kept for our earlier users.
    address: Address | None = Field(None, description="Address of the account to make active.",
                                    json_schema_extra={"cli_argument": True,
                                                       "cli_flags": ["--address"]})
    name: str | None = Field(None, description="Name of the account to make active.")


class WalletShowArgs(BaseModel):
    model_config = _STRICT
    address: Address | None = Field(None, description="Account address (default: active).")
    name: str | None = Field(None, description="Account name.")


class BalanceArgs(BaseModel):
    model_config = _STRICT
    chain_ids: ChainIds = Field(None, description="Chain ids, e.g. [1, 8453] (on the command "
                                "line: 1,8453); default: the devnet if running, else Ethereum, "
                                "Base, Linea.",
                                json_schema_extra={"cli_flags": ["--chain", "--chain-ids"],
                                                   "cli_metavar": "IDS"})
    address: Address | None = Field(None, description="Whose balance: this 0x address "
                                    "(default: the active account).")
    token: str | None = Field(None, description="Only this token: a symbol such as 'USDC' or "
                              "its 0x contract address.")
    token_contracts: str | None = Field(None, description="Extra ERC-20 contract addresses to "
                                        "include, comma-separated.")


class TransferArgs(BaseModel):
    model_config = _STRICT
    to: Address = Field(description="Recipient 0x address (checksummed or all lower case).")
    amount: Amount = Field(description="Human decimal amount as a string, e.g. '0.5'.")
    chain_id: ChainId = Field(description="Chain id, e.g. 1 (Ethereum), 8453 (Base), 31337.")
    # Required, as in the reference CLI: a missing --token must not silently move ETH.
    token: str = Field(description="Native symbol (ETH), a token symbol, or a 0x token "
                       "contract address; `mm token list --chain N` lists the known ones.")
    wait: bool = _WAIT
    dry_run: bool = _DRY
    wallet_timeout: OptionalTimeout = None


class SendTransactionArgs(BaseModel):
    model_config = _STRICT
    chain_id: ChainId = Field(description="Chain id to send on.")
    # agent_shape: agents get a typed object (mm_agent.operations.agent_schema); the CLI a JSON
    # string.
    payload: str = Field(description='Transaction as a JSON object string: {"to": "0x…", '
                         '"value": "0x0" (hex wei), "data": "0x…"}; optional gas, nonce, '
                         "maxFeePerGas, maxPriorityFeePerGas as hex.",
                         json_schema_extra={"agent_shape": "transaction"})
    intent: str | None = Field(None, description="One line saying what this transaction does, "
                               "shown to the human if approval is needed.")
    wait: bool = _WAIT
    dry_run: bool = _DRY
    wallet_timeout: OptionalTimeout = None


class SignMessageArgs(BaseModel):
    model_config = _STRICT
    message: str = Field(description="Text to sign with personal_sign (EIP-191).")
    chain_id: ChainId = Field(description="Chain id the signature is for.")
    wait: bool = _WAIT
    dry_run: bool = _DRY
    wallet_timeout: OptionalTimeout = None


class SignTypedDataArgs(BaseModel):
    model_config = _STRICT
    chain_id: ChainId = Field(description="Chain id; must equal the payload's domain.chainId.")
    payload: str = Field(description="EIP-712 typed data as a JSON object string with types, "
                         "primaryType, domain and message.",
                         json_schema_extra={"agent_shape": "typed-data"})
    intent: str | None = Field(None, description="One line saying what the signature allows.")
    wait: bool = _WAIT
    dry_run: bool = _DRY
    wallet_timeout: OptionalTimeout = None


class RequestsListArgs(BaseModel):
    model_config = _STRICT
    no_sync: bool = Field(False, description="Use the local cache without asking the service.")
    all: bool = Field(False, description="Also list finished requests (history); by default "
                      "only pending ones, as the reference CLI does.")


class RequestsWatchArgs(BaseModel):
    model_config = _STRICT
    polling_id: str = Field(description="pollingId of the request.",
                            json_schema_extra={"cli_argument": True,
                                               "cli_flags": ["--polling-id"]})
    wallet_timeout: OptionalTimeout = None


class DecodeArgs(BaseModel):
    model_config = _STRICT
    payload: str = Field(description="0x calldata to decode.")


class TxArgs(BaseModel):
    model_config = _STRICT
    hash: str = Field(description="0x transaction hash.",
                      json_schema_extra={"pattern": HASH_PATTERN})
    chain_id: ChainId | None = Field(None, description="Chain id (default: where this wallet "
                                     "sent it, else the devnet or Ethereum).")


class TxHistoryArgs(BaseModel):
    model_config = _STRICT
    chain_ids: ChainIds = Field(None, description="Only these chain ids, e.g. [1, 8453] (on "
                                "the command line: 1,8453).")
    limit: int = Field(20, ge=1, le=50, description="At most this many (1-50).")


def request_result(req: WalletRequest | dict[str, Any]) -> dict[str, Any]:
    """A request's JSON, or the error it ended with (CLI exit code ≠ 0, tool error)."""
    if isinstance(req, dict):  # a dry-run preview
        return req
    if req.status in ("FAILED", "DENIED", "EXPIRED") and req.error:
        err = MMError.from_payload(req.error)
        err.details = {"request": req.to_dict()}
        raise err
    return req.to_dict()


# --- handlers ------------------------------------------------------------------------------
def wallet_create(ctx: Context, args: WalletCreateArgs) -> dict[str, Any]:
    return ctx.wallet.create_account(args.name, trading_mode=args.trading_mode)


def wallet_list(ctx: Context, _args: None) -> dict[str, Any]:
    return {"accounts": ctx.wallet.accounts()}


def wallet_select(ctx: Context, args: WalletSelectArgs) -> dict[str, Any]:
    from mm_agent.errors import MissingFlag

    address = args.address
    if address is None:
        if args.name is None:
            raise MissingFlag("Missing --address or --name for `wallet select`.",
                              hint="`mm wallet list` shows your accounts.")
        address = ctx.wallet.show(None, args.name)["address"]  # WALLET_NOT_FOUND if none
    elif args.name is not None:
        found = ctx.wallet.show(None, args.name)["address"]
        if found.lower() != address.lower():
            from mm_agent.errors import ValidationError

            raise ValidationError(f"--name {args.name!r} is another account than --address.")
    return ctx.wallet.select(address)


def wallet_show(ctx: Context, args: WalletShowArgs) -> dict[str, Any]:
    return ctx.wallet.show(args.address, args.name)


def wallet_address(ctx: Context, _args: None) -> dict[str, Any]:
    # Cached in wallets.json: no crypto import needed. A damaged file is STATE_CORRUPT.
    from mm_agent.local.wallets_file import load_wallets

    data = load_wallets(ctx.home)
    if not isinstance(data, dict) or not data.get("active"):
        from mm_agent.errors import NotInitialized

        raise NotInitialized("No wallet is set up under this MM_HOME.")
    return {"address": data["active"]}


def wallet_add_fund(ctx: Context, _args: None) -> dict[str, Any]:
    address = wallet_address(ctx, None)["address"]
    if ctx.text_mode and ctx.interactive:
        ctx.qr(address)
    return {"address": address}


def wallet_balance(ctx: Context, args: BalanceArgs) -> dict[str, Any]:
    contracts = [c.strip() for c in (args.token_contracts or "").split(",") if c.strip()]
    return ctx.wallet.balance(args.chain_ids, token=args.token, token_contracts=contracts,
                              address=args.address)


def transfer(ctx: Context, args: TransferArgs) -> dict[str, Any]:
    with ctx.progress("Sending transfer"):
        return request_result(ctx.wallet.transfer(
            to=args.to, amount=args.amount, chain_id=args.chain_id, token=args.token,
            wait=args.wait, dry_run=args.dry_run, wallet_timeout=args.wallet_timeout))


def send_transaction(ctx: Context, args: SendTransactionArgs) -> dict[str, Any]:
    with ctx.progress("Sending transaction"):
        return request_result(ctx.wallet.send_transaction(
            chain_id=args.chain_id, payload=args.payload, intent=args.intent, wait=args.wait,
            dry_run=args.dry_run, wallet_timeout=args.wallet_timeout))


def sign_message(ctx: Context, args: SignMessageArgs) -> dict[str, Any]:
    return request_result(ctx.wallet.sign_message(
        message=args.message, chain_id=args.chain_id, wait=args.wait, dry_run=args.dry_run,
        wallet_timeout=args.wallet_timeout))


def sign_typed_data(ctx: Context, args: SignTypedDataArgs) -> dict[str, Any]:
    return request_result(ctx.wallet.sign_typed_data(
        chain_id=args.chain_id, payload=args.payload, intent=args.intent, wait=args.wait,
        dry_run=args.dry_run, wallet_timeout=args.wallet_timeout))


def requests_list(ctx: Context, args: RequestsListArgs) -> dict[str, Any]:
    listed = ctx.wallet.requests.list(sync=not args.no_sync)
    # Pending by default, as the reference's "List all pending wallet requests"; --all adds
    # the finished ones (our history).
    return {"requests": [r.to_dict() for r in listed if args.all or not r.done]}


def requests_watch(ctx: Context, args: RequestsWatchArgs) -> dict[str, Any]:
    return ctx.wallet.requests.wait(args.polling_id, timeout=args.wallet_timeout).to_dict()


def decode(ctx: Context, args: DecodeArgs) -> dict[str, Any]:
    from mm_agent.security.decode import decode_calldata

    return decode_calldata(args.payload).to_dict()


def tx(ctx: Context, args: TxArgs) -> dict[str, Any]:
    return ctx.wallet.tx(args.hash, args.chain_id)


def tx_history(ctx: Context, args: TxHistoryArgs) -> dict[str, Any]:
    return {"transactions": ctx.wallet.tx_history(args.chain_ids, args.limit)}


def password_set(ctx: Context, _args: None) -> dict[str, Any]:
    return _password(ctx, "set")


def password_change(ctx: Context, _args: None) -> dict[str, Any]:
    return _password(ctx, "change")


def password_remove(ctx: Context, _args: None) -> dict[str, Any]:
    return _password(ctx, "remove")


def _password(ctx: Context, action: str) -> dict[str, Any]:
    """Passwords come from MM_PASSWORD (current) / MM_NEW_PASSWORD or hidden prompts."""
    from mm_agent.errors import AlreadyEncrypted, NotEncrypted, PasswordRequired
    from mm_agent.wallets.byok import vault
    from mm_agent.wallets.byok.keyring import ByokKeyring

    keyring = ByokKeyring(ctx.home)
    # NOT_INITIALIZED / UNSUPPORTED_IN_MODE / ALREADY_ENCRYPTED / NOT_ENCRYPTED before asking
    # for anything (no pointless password prompts).
    if vault.is_encrypted(keyring.data()["byok"]["vault"]):
        if action == "set":
            raise AlreadyEncrypted("The wallet already has a password.")
    elif action != "set":
        raise NotEncrypted("The wallet has no password.")

    def ask(env: str, label: str) -> str:
        value = env_vars.raw(env)
        if value is None:
            value = ctx.prompt_secret(label)
        if value is None:
            raise PasswordRequired(f"Set {env} or run the command on a terminal.")
        return value

    def ask_new() -> tuple[str, str]:
        from mm_agent.wallets.byok.passwords import check_new_password

        new = check_new_password(ask(env_vars.NEW_PASSWORD, "New password"))
        if env_vars.is_set(env_vars.NEW_PASSWORD):
            confirm = env_vars.raw(env_vars.NEW_PASSWORD_CONFIRM)
            return new, new if confirm is None else confirm
        return new, ask(env_vars.NEW_PASSWORD, "Repeat new password")

    if action == "set":
        new, confirm = ask_new()
        keyring.update_vault(lambda blob: vault.set_password(blob, new, confirm))
    elif action == "change":
        old = ask(env_vars.PASSWORD, "Current password")
        vault.decrypt(keyring.data()["byok"]["vault"], old)  # WRONG_PASSWORD before asking more
        new, confirm = ask_new()
        keyring.update_vault(lambda blob: vault.change_password(blob, old, new, confirm))
    else:
        old = ask(env_vars.PASSWORD, "Current password")
        keyring.update_vault(lambda blob: vault.remove_password(blob, old))
    encrypted = vault.is_encrypted(keyring.data()["byok"]["vault"])
    return {"action": action, "encrypted": encrypted}
