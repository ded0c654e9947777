"""The operation registry: each operation of the product is declared here exactly once.

An ``Operation`` names its CLI path, its agent-facing description, its pydantic args model, its
handler, whether it writes, and who may call it (an agent, or only a human/operator). The CLI,
the LangChain tools, the function-calling schemas and the MCP server are all generated from
this table, so they cannot drift apart (contract §8).

Args models and handlers are referenced by dotted path and imported only when an operation is
run or its schema is needed: importing pydantic alone costs ~200 ms here, and commands such as
``mm chains list`` must start in well under that.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .context import Context

__all__ = [
    "OPERATIONS",
    "Audience",
    "Operation",
    "WalletMode",
    "agent_operations",
    "children",
    "find",
    "get",
]

Audience = Literal["agent", "human", "operator"]
WalletMode = Literal["byok", "server-wallet"]


@cache
def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Operation:
    name: str  # tool / function name, snake_case
    path: tuple[str, ...]  # CLI words
    summary: str  # one line for `--help` listings
    description: str  # what an agent reads: when to use it, what it returns
    handler: str  # "module:function" taking (ctx, args) and returning the JSON `data` object
    args: str | None = None  # "module:Model"; None for operations without arguments
    writes: bool = False
    audience: Audience = "agent"
    waits: bool = False  # takes --wait / --wallet-timeout
    destructive: bool = False  # moves funds or deletes state (MCP destructiveHint)
    # --- what agent surfaces need (function calling, LangChain, MCP) ---
    result: str | None = None  # "module:Model" of the JSON `data` object (MCP outputSchema)
    modes: tuple[WalletMode, ...] = ("byok", "server-wallet")  # wallet modes it works in
    idempotent: bool | None = None  # same call twice = same effect; None → `not writes`
    open_world: bool = True  # talks to a chain or the wallet service (MCP openWorldHint)
    may_pause: bool | None = None  # can wait for a human's approval; None → `writes and waits`
    account: bool = False  # takes the agent option `account` (acts for one of the accounts)
    # --- what the CLI needs ---
    quiet: bool = False  # prints no result on success: its stdout is a protocol (`mm mcp`)

    def __post_init__(self) -> None:
        # Defaults that follow from other fields (a frozen dataclass: set them once here).
        if self.idempotent is None:
            object.__setattr__(self, "idempotent", not self.writes)
        if self.may_pause is None:
            object.__setattr__(self, "may_pause", self.writes and self.waits)

    @property
    def cli_name(self) -> str:
        return " ".join(self.path)

    @property
    def agent_facing(self) -> bool:
        return self.audience == "agent"

    def args_model(self) -> type[BaseModel] | None:
        return _load(self.args) if self.args else None

    def result_model(self) -> type[BaseModel] | None:
        return _load(self.result) if self.result else None

    def handler_fn(self) -> Callable[[Context, Any], dict[str, Any]]:
        return _load(self.handler)  # type: ignore[no-any-return]

    def parse_args(self, raw: dict[str, Any]) -> Any:
        """Validate raw arguments into the args model, with contract error codes."""
        model = self.args_model()
        if model is None:
            if raw:
                from mm_agent.errors import UnknownFlag

                raise UnknownFlag(f"`{self.cli_name}` takes no arguments: {sorted(raw)}.")
            return None
        from .validation import validate_args

        return validate_args(model, raw, self.cli_name)

    def run(self, ctx: Context, raw: dict[str, Any]) -> dict[str, Any]:
        args = self.parse_args(raw)
        return self.handler_fn()(ctx, args)


def _op(*args: Any, **kwargs: Any) -> Operation:
    return Operation(*args, **kwargs)


_S = "mm_agent.operations.handlers.setup"
_C = "mm_agent.operations.handlers.chains"
_W = "mm_agent.operations.handlers.wallet"
_D = "mm_agent.operations.handlers.devnet"
_SS = "mm_agent.operations.handlers.session"
_P = "mm_agent.operations.handlers.predict"
_PQ = "mm_agent.operations.predict_results"
_SV = "mm_agent.operations.handlers.server"
_R = "mm_agent.operations.results"
_AL = "mm_agent.operations.handlers.allowances"
_SW = "mm_agent.operations.handlers.swap"
_PR = "mm_agent.operations.handlers.price"
_SERVER: tuple[WalletMode, ...] = ("server-wallet",)

OPERATIONS: tuple[Operation, ...] = (
    # --- setup and session (human-facing) --------------------------------------------------------
    _op("doctor", ("doctor",), "Check the installation, session and wallet.",
        "Report CLI version, service URL, sign-in and wallet state, with hints to fix problems.",
        "mm_agent.operations.handlers.status:doctor", audience="human"),
    _op("config_get", ("config", "get"), "Show one config value, or all of them.",
        "Show persisted configuration values and where each comes from.",
        f"{_S}:config_get", f"{_S}:ConfigGetArgs", audience="human"),
    _op("config_set", ("config", "set"), "Set a config value.",
        "Persist a validated configuration value under MM_HOME/config.json.",
        f"{_S}:config_set", f"{_S}:ConfigSetArgs", writes=True, audience="human"),
    _op("config_unset", ("config", "unset"), "Remove a config value (back to its default).",
        "Remove a persisted configuration value from MM_HOME/config.json.",
        f"{_S}:config_unset", f"{_S}:ConfigUnsetArgs", writes=True, audience="human"),
    _op("reset", ("reset",), "Delete all local state under MM_HOME.",
        "Delete session, wallets, config, history and request records.",
        f"{_S}:reset", f"{_S}:ResetArgs", writes=True, audience="human", destructive=True),
    _op("init", ("init",), "Set up a wallet (BYOK or server wallet).",
        "Initialise the wallet mode and the first account.",
        f"{_S}:init", f"{_S}:InitArgs", writes=True, audience="human"),
    _op("init_show", ("init", "show"), "Show the wallet mode, trading mode and address.",
        "Show how the wallet is set up.",
        "mm_agent.operations.handlers.status:init_show", audience="human"),
    _op("wallet_password_set", ("wallet", "password", "set"), "Encrypt the BYOK vault.",
        "Encrypt the BYOK mnemonic with a password of at least 8 characters. The password is "
        "read from MM_NEW_PASSWORD (and MM_NEW_PASSWORD_CONFIRM) or a hidden prompt, never "
        "from a flag.",
        f"{_W}:password_set", writes=True, audience="human"),
    _op("wallet_password_change", ("wallet", "password", "change"), "Change the vault password.",
        "Re-encrypt the BYOK mnemonic under a new password (at least 8 characters). The "
        "current password is read from MM_PASSWORD, the new one from MM_NEW_PASSWORD (and "
        "MM_NEW_PASSWORD_CONFIRM), or hidden prompts; never from a flag.",
        f"{_W}:password_change", writes=True, audience="human"),
    _op("wallet_password_remove", ("wallet", "password", "remove"), "Decrypt the vault.",
        "Store the BYOK mnemonic without a password. The current password is read from "
        "MM_PASSWORD or a hidden prompt, never from a flag.",
        f"{_W}:password_remove", writes=True, audience="human", destructive=True),
    # --- wallet (agent-facing) -------------------------------------------------------------------
    _op("wallet_create", ("wallet", "create"), "Create another account.",
        "Create a new account in this wallet (next HD index for BYOK) and return its address.",
        f"{_W}:wallet_create", f"{_W}:WalletCreateArgs", writes=True, result=f"{_R}:Account"),
    _op("wallet_list", ("wallet", "list"), "List accounts.",
        "List the wallet's accounts with address, name and which one is active.",
        f"{_W}:wallet_list", result=f"{_R}:AccountList"),
    _op("wallet_select", ("wallet", "select"), "Make an account active.",
        "Make the account with this address the active one for later operations.",
        f"{_W}:wallet_select", f"{_W}:WalletSelectArgs", writes=True, result=f"{_R}:Account",
        idempotent=True),
    _op("wallet_show", ("wallet", "show"), "Show an account.",
        "Show one account (the active one by default): address, name, mode.",
        f"{_W}:wallet_show", f"{_W}:WalletShowArgs", result=f"{_R}:Account"),
    _op("wallet_address", ("wallet", "address"), "Print the active address.",
        "Return the checksummed address of the active account.", f"{_W}:wallet_address",
        result=f"{_R}:AddressResult", open_world=False),
    _op("wallet_add_fund", ("wallet", "add-fund"), "Show how to fund the wallet.",
        "Return the address to send funds to (a QR code on a terminal).",
        f"{_W}:wallet_add_fund", result=f"{_R}:AddressResult", open_world=False),
    _op("wallet_balance", ("wallet", "balance"), "Show balances.",
        "Native and token balances of the active account per chain, as exact decimal strings. "
        "Use before transfers to check funds.",
        f"{_W}:wallet_balance", f"{_W}:BalanceArgs", result=f"{_R}:Balance", account=True),
    _op("wallet_sign_message", ("wallet", "sign-message"), "Sign a text message.",
        "Sign a message with personal_sign (EIP-191) after a threat scan. Returns a request "
        "whose signature field holds the signature.",
        f"{_W}:sign_message", f"{_W}:SignMessageArgs", writes=True, waits=True,
        result=f"{_R}:RequestResult", account=True),
    _op("wallet_sign_typed_data", ("wallet", "sign-typed-data"), "Sign EIP-712 typed data.",
        "Sign EIP-712 typed data (v4) after validation and a threat scan (permits are checked "
        "for who may spend what and until when).",
        f"{_W}:sign_typed_data", f"{_W}:SignTypedDataArgs", writes=True, waits=True,
        result=f"{_R}:RequestResult", account=True),
    _op("wallet_send_transaction", ("wallet", "send-transaction"), "Send a raw transaction.",
        "Send a contract call or payment given as a JSON payload. It is decoded, simulated and "
        "scanned first; a reverting transaction is never broadcast; risky ones wait for a human.",
        f"{_W}:send_transaction", f"{_W}:SendTransactionArgs", writes=True, waits=True,
        destructive=True, result=f"{_R}:RequestResult", account=True),
    _op("transfer", ("transfer",), "Transfer native tokens or ERC-20s.",
        "Transfer an amount of the native coin or an ERC-20 token (by symbol or address) to a "
        "recipient. Amounts are human decimals as strings ('0.5'). Returns the request with "
        "txHash and status.",
        f"{_W}:transfer", f"{_W}:TransferArgs", writes=True, waits=True, destructive=True,
        result=f"{_R}:RequestResult", account=True),
    _op("wallet_policy_get", ("wallet", "policy", "get"), "Show the wallet's policy.",
        "Return the server wallet's policy document (YAML): allowlists, blocklist, allowed "
        "chains, token recipients and the rolling 24h USD outflow limit.",
        "mm_agent.operations.handlers.policy:policy_get", result=f"{_R}:PolicyDocument",
        modes=_SERVER, account=True),
    _op("wallet_policy_set", ("wallet", "policy", "set"), "Replace the wallet's policy.",
        "Replace the policy with a complete YAML document. Tightening applies at once "
        "(status confirmed); broadening waits for the human's approval (pending_approval).",
        "mm_agent.operations.handlers.policy:policy_set",
        "mm_agent.operations.handlers.policy:PolicySetArgs",
        writes=True, waits=True, result=f"{_R}:PolicyChange", modes=_SERVER, account=True),
    _op("wallet_policy_template", ("wallet", "policy", "template"), "Print a policy template.",
        "Return a commented policy document to start from.",
        "mm_agent.operations.handlers.policy:policy_template", result=f"{_R}:PolicyDocument",
        open_world=False),
    _op("wallet_trading_mode_get", ("wallet", "trading-mode", "get"), "Show the trading mode.",
        "Return the wallet's trading mode: guard (all guardrails) or beast (threat scan only).",
        "mm_agent.operations.handlers.policy:trading_mode_get", result=f"{_R}:TradingMode",
        modes=_SERVER, account=True),
    _op("wallet_trading_mode_set", ("wallet", "trading-mode", "set"), "Set the trading mode.",
        "Switch the trading mode. guard → beast needs the human's approval "
        "(pending_approval); beast → guard applies at once.",
        "mm_agent.operations.handlers.policy:trading_mode_set",
        "mm_agent.operations.handlers.policy:TradingModeSetArgs",
        writes=True, waits=True, result=f"{_R}:TradingModeChange", modes=_SERVER,
        account=True),
    _op("wallet_requests_list", ("wallet", "requests", "list"), "List requests.",
        "List signing and transaction requests that are not final yet (pending, awaiting "
        "approval, submitted); all (--all) adds the finished ones.",
        f"{_W}:requests_list", f"{_W}:RequestsListArgs", result=f"{_R}:RequestList"),
    _op("wallet_requests_watch", ("wallet", "requests", "watch"), "Follow one request.",
        "Wait for a request (by pollingId) to reach a final status and return it.",
        f"{_W}:requests_watch", f"{_W}:RequestsWatchArgs", waits=True, result=f"{_R}:Request"),
    _op("wallet_requests_cancel", ("wallet", "requests", "cancel"), "Cancel a request.",
        "Cancel a request by pollingId: a PENDING or AWAITING_MFA one ends DENIED with "
        "TX_CANCELLED; a SUBMITTED transaction is replaced by a 0-value self-transfer with "
        "the same nonce (result.cancelTxHash).",
        "mm_agent.operations.handlers.cancel:requests_cancel",
        "mm_agent.operations.handlers.cancel:RequestsCancelArgs",
        writes=True, result=f"{_R}:Request"),
    _op("wallet_allowances_list", ("wallet", "allowances", "list"),
        "List token approvals this wallet granted.",
        "List the ERC-20 allowances this account has granted (token, spender, current amount, "
        "unlimited or not), read from the chain. Use before revoking.",
        f"{_AL}:allowances_list", f"{_AL}:AllowancesListArgs", result=f"{_AL}:AllowanceList",
        account=True),
    _op("wallet_allowances_revoke", ("wallet", "allowances", "revoke"),
        "Revoke a token approval.",
        "Set this account's allowance for a spender on a token to zero (approve(spender, 0)), "
        "through the security pipeline. Nothing is signed when it is already zero.",
        f"{_AL}:allowances_revoke", f"{_AL}:AllowancesRevokeArgs", writes=True, waits=True,
        result=f"{_R}:RequestResult", account=True, idempotent=True),
    # --- swaps and prices (contract §10) ---------------------------------------------------------
    _op("swap_quote", ("swap", "quote"), "Quote a same-chain token swap.",
        "Quote selling an amount of one token for another on one chain (Uniswap V2 on the "
        "devnet, V3 elsewhere): expected output, minimum after slippage, price impact, route "
        "and whether an approval is needed. Returns a quoteId that expires (expiresAt). "
        "Cross-chain is BRIDGE_UNSUPPORTED.",
        f"{_SW}:swap_quote", f"{_SW}:SwapQuoteArgs", result=f"{_SW}:SwapQuoteResult",
        account=True),
    _op("swap_execute", ("swap", "execute"), "Execute a swap quote.",
        "Execute a quote by quoteId: the pool is quoted again first and the swap is refused "
        "(SWAP_PRICE_MOVED, nothing signed) if it would now pay less than the quote's minimum; "
        "then an exact approval (only the amount, to the router) and the swap go through the "
        "security pipeline.",
        f"{_SW}:swap_execute", f"{_SW}:SwapExecuteArgs", writes=True, waits=True,
        destructive=True, result=f"{_SW}:SwapQuoteResult", account=True),
    _op("swap_status", ("swap", "status"), "Show a swap's status.",
        "Status of a quote and its swap by quoteId: QUOTED, EXPIRED, APPROVAL_PENDING, "
        "SUBMITTED, COMPLETED (with the amount received) or FAILED.",
        f"{_SW}:swap_status", f"{_SW}:SwapStatusArgs", result=f"{_SW}:SwapQuoteResult",
        account=True),
    _op("price_spot", ("price", "spot"), "Current USD prices of assets.",
        "USD prices of CAIP-19 assets (eip155:1/slip44:60, eip155:1/erc20:0x…), each with its "
        "source: static (operator prices), chainlink, devnet-pool or devnet-static; null when "
        "no source knows the asset.",
        f"{_PR}:price_spot", f"{_PR}:PriceSpotArgs", result=f"{_PR}:PriceSpotResult"),
    _op("price_history", ("price", "history"), "Historical USD prices of an asset.",
        "Historical USD prices of one asset as [millisecond timestamp, price] rows, from its "
        "Chainlink feed's rounds or its devnet pool's history, with the source.",
        f"{_PR}:price_history", f"{_PR}:PriceHistoryArgs",
        result=f"{_PR}:PriceHistoryResult"),
    # --- read-only helpers (agent-facing) --------------------------------------------------------
    _op("decode", ("decode",), "Decode calldata.",
        "Decode 0x calldata into function name, parameters and a readable intent. Unknown "
        "selectors give functionName null.", f"{_W}:decode", f"{_W}:DecodeArgs",
        result=f"{_R}:Decoded", open_world=False),
    _op("tx", ("tx",), "Show a transaction.",
        "Status, block, gas and parties of a transaction by hash.", f"{_W}:tx", f"{_W}:TxArgs",
        result=f"{_R}:Transaction"),
    _op("tx_history", ("tx", "history"), "List this wallet's transactions.",
        "Recent transactions sent by this wallet, newest first.",
        f"{_W}:tx_history", f"{_W}:TxHistoryArgs", result=f"{_R}:TxHistory"),
    _op("chains_list", ("chains", "list"), "List supported chains.",
        "List the EVM chains this wallet supports, with chainId, CAIP-2 id, name, native symbol "
        "and whether each is a testnet. Use it to find the chainId for other tools.",
        f"{_C}:chains_list", result=f"{_R}:ChainList", open_world=False),
    _op("token_list", ("token", "list"), "List known tokens.",
        "List the tokens this wallet knows by symbol (native coin, curated ERC-20s, devnet "
        "tokens) per chain, with address and decimals. Use it to find a --token value.",
        "mm_agent.operations.handlers.tokens:token_list",
        "mm_agent.operations.handlers.tokens:TokenListArgs",
        open_world=False, result=f"{_R}:TokenList"),
    _op("token_list_search", ("token", "list", "search"), "Search known tokens.",
        "Find known tokens whose symbol or name contains the query, per chain.",
        "mm_agent.operations.handlers.tokens:token_search",
        "mm_agent.operations.handlers.tokens:TokenSearchArgs",
        open_world=False, result=f"{_R}:TokenList"),
    # --- sign-in to the wallet service (human-facing) ----------------------------------------
    _op("login", ("login",), "Sign in to the wallet service.",
        "Sign in by email magic link (browser), by pairing an authenticator app (qr), or "
        "headless with a cliToken:cliRefreshToken pair (--token or MM_CLI_TOKEN).",
        f"{_SS}:login", f"{_SS}:LoginArgs", writes=True, audience="human"),
    _op("auth_status", ("auth", "status"), "Show the sign-in session.",
        "Check the session with the wallet service: email, approval channel, sign-in method, "
        "service URL and access-token expiry.", f"{_SS}:auth_status", audience="human"),
    _op("logout", ("logout",), "Sign out of the wallet service.",
        "Revoke the CLI tokens on the wallet service and delete session.json.",
        f"{_SS}:logout", f"{_SS}:LogoutArgs", writes=True, audience="human", destructive=True),
    # --- predict (contract §10; devnet back end) ----------------------------------------------
    _op("predict_mode", ("predict", "mode"), "Show or switch the predict back end.",
        "Show the predict mode, or switch it: devnet (the local market service), testnet "
        "(Polymarket on Polygon Amoy) or mainnet (Polymarket on Polygon).",
        f"{_P}:mode", f"{_P}:ModeArgs", writes=True, audience="human", open_world=False),
    _op("predict_setup", ("predict", "setup"), "One-time predict setup.",
        "Derive the trading API credentials (a ClobAuth signature) and approve the exchange "
        "for collateral and outcome tokens. Needed once before trading; idempotent. On "
        "testnet/mainnet refused with PREDICT_GEOBLOCKED where Polymarket blocks trading.",
        f"{_P}:setup", f"{_P}:WaitArgs", writes=True, waits=True, idempotent=True,
        result=f"{_PQ}:PredictSetup"),
    _op("predict_auth", ("predict", "auth"), "Create or refresh predict trading credentials.",
        "Derive the trading API credentials with one ClobAuth signature and check them with an "
        "authenticated request; --refresh asks the order book to create the key first. Shows "
        "the key id only: the secret and passphrase are never shown or stored. No on-chain "
        "effect.",
        f"{_P}:auth", f"{_P}:AuthArgs", writes=True, idempotent=True,
        result=f"{_P}:AuthResult"),
    # `mm predict approve` as the reference names it; the tool is not called *approve*: no agent
    # tool may read like approving a pending request (tests/toolkits/test_langchain.py).
    _op("predict_set_allowances", ("predict", "approve"),
        "Repair the predict exchange approvals.",
        "Approve the exchange for collateral (unlimited only when there is no allowance, or "
        "exactly --amount) and for outcome tokens, each only when needed; the approval part "
        "of setup. Refused with PREDICT_GEOBLOCKED where Polymarket blocks trading.",
        f"{_P}:approve", f"{_P}:ApproveArgs", writes=True, waits=True, idempotent=True,
        result=f"{_P}:ApproveResult"),
    _op("predict_geoblock", ("predict", "geoblock"), "Check whether predict is geoblocked here.",
        "Ask Polymarket's geoblock check whether this address may trade: blocked, ip, country, "
        "region, restriction (none, close-only or blocked). Setup, approve, deposit and place "
        "are refused with PREDICT_GEOBLOCKED when blocked; the devnet is never geoblocked.",
        f"{_P}:geoblock",
        result=f"{_P}:GeoblockResult"),
    _op("predict_status", ("predict", "status"), "Predict back-end and account status.",
        "Reachability of the market data (gamma) and order book (clob) back ends and the "
        "account's setup state (account.setupComplete).",
        f"{_P}:status",
        result=f"{_PQ}:PredictStatus"),
    _op("predict_balance", ("predict", "balance"), "Predict collateral, approvals, holdings.",
        "Collateral balance, whether approvals are in place and setup is complete; with "
        "--token-id also the holding of that outcome token.",
        f"{_P}:balance", f"{_P}:BalanceArgs",
        result=f"{_PQ}:PredictBalance"),
    _op("predict_deposit", ("predict", "deposit"), "Fund the predict account.",
        "Make collateral available for orders (devnet: the wallet's mUSD is the collateral; "
        "the exchange's allowance is checked and repaired).",
        f"{_P}:deposit", f"{_P}:DepositArgs", writes=True, waits=True,
        result=f"{_PQ}:PredictJob"),
    _op("predict_withdraw", ("predict", "withdraw"), "Withdraw predict collateral.",
        "Send collateral from the predict account to --to (default: the owner EOA).",
        f"{_P}:withdraw", f"{_P}:WithdrawArgs", writes=True, waits=True, destructive=True,
        result=f"{_PQ}:PredictJob"),
    _op("predict_markets_list", ("predict", "markets", "list"), "List prediction markets.",
        "List markets with question, conditionId, slug, outcomes, prices, liquidity and "
        "whether they are closed.",
        f"{_P}:markets_list", f"{_P}:MarketsListArgs",
        result=f"{_PQ}:MarketList"),
    _op("predict_markets_search", ("predict", "markets", "search"), "Search markets.",
        "Find markets whose question or slug contains the query words.",
        f"{_P}:markets_search", f"{_P}:MarketsSearchArgs",
        result=f"{_PQ}:MarketList"),
    _op("predict_markets_get", ("predict", "markets", "get"), "Show one market.",
        "One market by slug, id or condition id, with the outcome token ids that book, quote "
        "and place need.",
        f"{_P}:markets_get", f"{_P}:MarketsGetArgs",
        result=f"{_PQ}:Market"),
    _op("predict_book", ("predict", "book"), "Order book of an outcome token.",
        "Bids and asks ({price, size}) of one outcome token.",
        f"{_P}:book", f"{_P}:BookArgs",
        result=f"{_PQ}:Book"),
    _op("predict_quote", ("predict", "quote"), "Preview an order's cost and fill.",
        "Walk the book for a buy or sell of --size shares: average price, estimated cost or "
        "proceeds, fillable size. Read-only.",
        f"{_P}:quote", f"{_P}:QuoteArgs",
        result=f"{_PQ}:Quote"),
    _op("predict_place", ("predict", "place"), "Place a prediction-market order.",
        "Sign an order (typed data through the security pipeline) and post it: GTC/GTD rest "
        "on the book, FOK/FAK fill at once. Filled is reported only with the settlement "
        "receipt. Quote first. Refused with PREDICT_GEOBLOCKED where Polymarket blocks "
        "trading, except a sell of held outcome tokens in a close-only region.",
        f"{_P}:place", f"{_P}:PlaceArgs", writes=True, waits=True, destructive=True,
        result=f"{_PQ}:PredictOrder"),
    _op("predict_cancel", ("predict", "cancel"), "Cancel open predict orders.",
        "Cancel exactly one target: --order-id, --all, or --market/--asset.",
        f"{_P}:cancel", f"{_P}:CancelArgs", writes=True, idempotent=True,
        result=f"{_PQ}:CancelResult"),
    _op("predict_orders", ("predict", "orders"), "List open predict orders.",
        "Open orders with orderId, token, side, size, price.",
        f"{_P}:orders", f"{_P}:OrdersArgs",
        result=f"{_PQ}:OrderList"),
    _op("predict_positions", ("predict", "positions"), "List predict positions.",
        "Outcome-token holdings read from the chain, with market question and outcome.",
        f"{_P}:positions", f"{_P}:PositionsArgs",
        result=f"{_PQ}:PositionList"),
    _op("predict_portfolio", ("predict", "portfolio"), "Predict portfolio snapshot.",
        "Collateral balance, positions and redeemable winnings.",
        f"{_P}:portfolio",
        result=f"{_PQ}:Portfolio"),
    _op("predict_redeem", ("predict", "redeem"), "Redeem resolved positions.",
        "Redeem the winning outcome tokens of one resolved market (condition id) or --all "
        "for collateral.",
        f"{_P}:redeem", f"{_P}:RedeemArgs", writes=True, waits=True, destructive=True,
        result=f"{_PQ}:Redemptions"),
    _op("predict_redeem_list", ("predict", "redeem", "list"), "List redeemable positions.",
        "Resolved markets where this account holds outcome tokens, with the payout.",
        f"{_P}:redeem_list",
        result=f"{_PQ}:RedeemList"),
    _op("predict_history", ("predict", "history"), "Predict activity history.",
        "Setups, deposits, orders, cancels and redemptions of this account, newest first.",
        f"{_P}:history", f"{_P}:HistoryArgs", open_world=False,
        result=f"{_PQ}:PredictHistory"),
    _op("predict_watch", ("predict", "watch"), "Follow a predict job.",
        "Status of a predict job: an order id, a pollingId from setup/deposit/redeem, or a "
        "transaction hash.",
        f"{_P}:watch", f"{_P}:WatchArgs", waits=True,
        result=f"{_PQ}:PredictWatch"),
    # --- devnet (operator) -----------------------------------------------------------------------
    _op("devnet_start", ("devnet", "start"), "Start a local anvil chain with demo tokens.",
        "Start anvil (chain 31337) and deploy the demo ERC-20/721/1155 contracts.",
        f"{_D}:devnet_start", f"{_D}:DevnetStartArgs", writes=True, audience="operator"),
    _op("devnet_stop", ("devnet", "stop"), "Stop the local devnet this CLI started.",
        "Stop the anvil process recorded in MM_HOME/devnet.json.",
        f"{_D}:devnet_stop", writes=True, audience="operator"),
    _op("devnet_status", ("devnet", "status"), "Show the local devnet's status.",
        "Show whether the local devnet runs, its RPC URL, block number and demo tokens.",
        f"{_D}:devnet_status", audience="operator"),
    _op("devnet_predict_serve", ("devnet", "predict", "serve"),
        "Run a devnet market service in the foreground.",
        "Serve the Gamma/CLOB subset over the running devnet's markets until interrupted "
        "(`mm devnet start` already runs one).",
        f"{_P}:serve", f"{_P}:ServeArgs", writes=True, audience="operator"),
    _op("devnet_predict_resolve", ("devnet", "predict", "resolve"),
        "Resolve a devnet market.",
        "Report a devnet market's payouts as its oracle (yes, no or invalid).",
        f"{_P}:resolve", f"{_P}:ResolveArgs", writes=True, audience="operator"),
    # --- wallet service (operator) ---------------------------------------------------------------
    _op("server_start", ("server", "start"), "Run the wallet service in the foreground.",
        "Run the self-hosted wallet service (HTTP API, sign-in and approval pages) until "
        "interrupted. Mail goes to <data-dir>/outbox with --dev or without MM_SMTP_HOST.",
        "mm_agent.operations.handlers.server:server_start",
        "mm_agent.operations.handlers.server:ServerStartArgs",
        writes=True, audience="operator"),
    _op("server_admin_create_login", ("server", "admin", "create-login"),
        "Create a headless CLI login for an account.",
        "Create or update an account in the service's data dir and print a "
        "cliToken:cliRefreshToken pair for `mm login --token` (and, for the authenticator "
        "channel, the TOTP provisioning URI).",
        "mm_agent.operations.handlers.server:create_login",
        "mm_agent.operations.handlers.server:CreateLoginArgs",
        writes=True, audience="operator"),
    _op("server_admin_migrate", ("server", "admin", "migrate"),
        "Apply pending database migrations.",
        "Bring the service database (SQLite in the data dir, or --database-url / "
        "MM_DATABASE_URL) to the current schema, as `mm server start` does, under a lock so "
        "that replicas starting at once migrate once; adopts a database made before Alembic.",
        "mm_agent.operations.handlers.server:migrate",
        "mm_agent.operations.handlers.server:MigrateArgs",
        writes=True, audience="operator", open_world=False),
    _op("server_admin_revoke_tokens", ("server", "admin", "revoke-tokens"),
        "Revoke every token of an account.",
        "Revoke all CLI tokens, refresh tokens and web sessions of an account and close its "
        "sign-ins in progress: the agent's next call is NOT_AUTHENTICATED.",
        f"{_SV}:revoke_tokens", f"{_SV}:RevokeTokensArgs",
        writes=True, audience="operator", open_world=False, idempotent=True),
    _op("server_admin_freeze", ("server", "admin", "freeze"),
        "Freeze a server wallet: it signs nothing.",
        "Freeze a wallet: new signing requests are WALLET_FROZEN and jobs that have not "
        "signed yet fail with it; reads still work and the owner sees `frozen`.",
        f"{_SV}:freeze", f"{_SV}:FreezeArgs",
        writes=True, audience="operator", open_world=False, idempotent=True),
    _op("server_admin_unfreeze", ("server", "admin", "unfreeze"),
        "Unfreeze a server wallet.",
        "Lift a freeze: the wallet accepts signing requests again.",
        f"{_SV}:unfreeze", f"{_SV}:UnfreezeArgs",
        writes=True, audience="operator", open_world=False, idempotent=True),
    _op("server_admin_rotate_master_key", ("server", "admin", "rotate-master-key"),
        "Re-wrap every wallet key under a new master key.",
        "Re-wrap every wallet data key and TOTP seed under a new master key in one verified "
        "transaction (the service must be stopped); keeps the old key file as "
        "master.key.old-<timestamp>.",
        f"{_SV}:rotate_master_key", f"{_SV}:RotateMasterKeyArgs",
        writes=True, audience="operator", open_world=False),
    _op("server_admin_backup", ("server", "admin", "backup"),
        "Back up the service database (SQLite).",
        "Copy the SQLite database with the online backup API to a new 0600 file while the "
        "service runs; the master key is NOT included (PostgreSQL: pg_dump).",
        f"{_SV}:backup", f"{_SV}:BackupArgs",
        writes=True, audience="operator", open_world=False),
    _op("server_admin_restore", ("server", "admin", "restore"),
        "Restore the service database from a backup (SQLite).",
        "Put a backup in place as the data dir's database (service stopped); a database "
        "holding data needs --force and is moved aside, never deleted (PostgreSQL: "
        "pg_restore).",
        f"{_SV}:restore", f"{_SV}:RestoreArgs",
        writes=True, audience="operator", open_world=False, destructive=True),
    # --- MCP server (operator: it serves agents, it is never an agent tool) ----------------------
    _op("mcp", ("mcp",), "Serve the agent tools over MCP (stdio, or --http).",
        "Serve this wallet's agent tools to an MCP client over stdio, or over streamable HTTP "
        "on loopback with --http (bearer token, Origin checked), until the client disconnects "
        "or Ctrl-C. BYOK: the vault is unlocked from MM_PASSWORD.",
        "mm_agent.toolkits.mcp_command:serve_command",
        "mm_agent.toolkits.mcp_command:McpArgs", audience="operator", quiet=True),
)

_BY_NAME = {op.name: op for op in OPERATIONS}
_BY_PATH = {op.path: op for op in OPERATIONS}
assert len(_BY_NAME) == len(OPERATIONS), "duplicate operation name"
assert len(_BY_PATH) == len(OPERATIONS), "duplicate CLI path"


def get(name: str) -> Operation:
    return _BY_NAME[name]


def find(path: tuple[str, ...]) -> Operation | None:
    return _BY_PATH.get(path)


def children(prefix: tuple[str, ...]) -> dict[str, str]:
    """Next command words under ``prefix`` with a one-line summary each (CLI help, REPL)."""
    out: dict[str, str] = {}
    for op in OPERATIONS:
        if len(op.path) > len(prefix) and op.path[: len(prefix)] == prefix:
            word = op.path[len(prefix)]
            here = find((*prefix, word))
            out.setdefault(word, here.summary if here else f"{word.capitalize()} commands.")
    return out


def agent_operations() -> Iterator[Operation]:
    return (op for op in OPERATIONS if op.agent_facing)
