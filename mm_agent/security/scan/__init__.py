"""Local threat scanner: the open stand-in for Blockaid in the security pipeline (contract §5).

``scan(ScanInput(...), remote=[...])`` returns a :class:`ScanResult` whose ``to_dict()`` is the
preview's ``scan`` object::

    {"resultType": "Benign"|"Warning"|"Malicious"|"Error", "reason": str, "classification": str,
     "description": str,
     "features": [{"type": "Benign"|"Warning"|"Malicious"|"Info"|"Error", "featureId": str,
                   "description": str, "address": str|None}]}

The worst feature wins (Malicious > Error > Warning > Benign/Info) and gives the result its
``reason`` (Blockaid's reason names; ``""`` when Benign), ``classification`` and ``description``;
ties go to the earlier rule below. What callers do with it (§5): Malicious → human approval in
every mode, never auto-signed; Warning → human approval; Error → same as Warning (fail closed);
Benign → continue. A local rule or a remote scanner that raises, or returns something that is not
a list of ``Feature``, adds an ``Error`` feature (``LOCAL_RULE_ERROR`` / ``REMOTE_SCANNER_ERROR``,
reason ``other``, classification ``scanner_error``), so the result is ``Error`` unless something
is Malicious. Calldata the caller did not decode is decoded here; if that fails an Info feature
``UNDECODED_CALLDATA`` is added.

Rules, in evaluation order (module · featureId · type · reason / classification — meaning).
"Contract" means the node reports code at the address. "Verified protocol" means the address is
in the per-chain known-protocol registry (``mm_agent/security/scan/known_protocols.py``: Uniswap
V2/V3 routers, SwapRouter02, Universal Router 1.2/2, Permit2, 1inch v5/v6, 0x Exchange Proxy and
AllowanceHolder, CoW settlement and vault relayer, Seaport 1.5/1.6 and the OpenSea conduit,
Aave V3 pool, Lido stETH/wstETH, WETH, Balancer V2 vault, on chains 1/10/137/8453/42161;
Polymarket's CTF exchanges, Neg Risk adapter and Conditional Tokens on 137/80002; Permit2 on
every chain; on 31337 the devnet's token contracts and its ``markets`` deployment's contracts,
not ``Puller``, the demo's unknown dapp), extended by ``security.knownProtocols`` (a JSON
file ``{"<chainId>": {"0xaddr": "name"}}``;
a missing or malformed file raises ``STATE_CORRUPT``). The wallet's history ("used before") is a
separate notion: it never makes a spender trusted. Amounts ≥ 2^96−1 base units (type(uint96).max,
the smallest "infinite" sentinel tokens use; Permit2's max uint160 is above it) are unlimited;
below that a grant of ≥ 50 % of the holder's current balance (``balanceOf`` at ``latest``, read once
per scan; 0 balance counts as large) is large; a grant usable for > 30 days (or with no expiry,
for signed permits) is long-lived.

The scan object also carries ``grants`` (beyond the contract's keys), one entry per allowance the
action would hand out (transactions: simulation exposures + decoded calldata including inner
multicall/Safe/Universal Router calls; typed data: the message), for the policy:
``{kind: allowance|nft|operator, spender, asset: {type, address, symbol, decimals, tokenId},
amount, unlimited, expiration, spenderKnown, spenderName, spenderIsContract, holder,
holderBalance, source: transaction|typed-data, label}``. Revocations are not listed.

1. Denylist (``rules_denylist``)

   - ``KNOWN_MALICIOUS_ADDRESS`` · Malicious · ``known_malicious`` / ``known_malicious`` — an
     address the action touches is on the denylist (tx ``to``, every address parameter of the
     decoded call and its inner calls, effective recipient, spender/operator, simulated spenders
     and balance-change accounts, EIP-7702 delegates; for typed data the domain's
     ``verifyingContract`` and every address in the message). Do not sign.
     ``load_denylist(path)`` reads ScamSniffer's ``address.json`` (a JSON array of addresses)
     and merges ``BUILTIN_DENYLIST`` (five synthetic test entries ``0xbad000…0001``–``…0005``,
     not real scammers); a missing or malformed file raises ``StateCorrupt``.

2. Raw signatures (``rules_signatures``; messages)

   - ``RAW_HASH_SIGNATURE`` · Malicious · ``raw_signature_farming`` / ``blind_hash_signing`` —
     the message is exactly 32 bytes (``0x`` + 64 hex, a bare 64-hex string, or 32 raw bytes)
     that do not read as text: a hash the user cannot read, the eth_sign phishing pattern.
     Refused unless a human approves. (A hex-encoded 32-character phrase is text, not a hash.)
   - ``EIP712_PREIMAGE_AS_MESSAGE`` / ``BINARY_MESSAGE`` · Info — a longer hex payload that is
     not readable text; shown so the reviewer knows it cannot be read. Readable text: no feature.

3. Approvals (``rules_approvals``; transactions) — ERC-20 ``approve``/``increaseAllowance``,
ERC-721 ``approve``, ``setApprovalForAll`` (ERC-721/1155), ERC-777 ``authorizeOperator``, Permit2
``approve`` and ``permit``, Universal Router ``PERMIT2_PERMIT[_BATCH]`` commands, a self-submitted
EIP-2612/DAI ``permit``; inner calls included; simulation exposures first, decoded calls fill gaps.

   - ``APPROVAL_TO_EOA`` · Malicious · ``approval_farming`` / ``approval_to_eoa`` — an allowance
     to an account without code (also a ``PERMIT2_PERMIT`` naming one): whoever holds it can take
     the tokens.
   - ``SET_APPROVAL_FOR_ALL_TO_EOA`` · Malicious · ``set_approval_for_all`` /
     ``set_approval_for_all_to_eoa``; ``ERC777_OPERATOR_TO_EOA`` · Malicious · ``approval_farming``
     /
     ``operator_to_eoa`` — an operator over every token to an account without code.
   - ``UNLIMITED_APPROVAL_UNKNOWN_CONTRACT`` (``unlimited_approval``) /
     ``LARGE_APPROVAL_UNKNOWN_CONTRACT`` (``large_approval``) / ``LONG_APPROVAL_UNKNOWN_CONTRACT``
     (``long_lived_approval``, Permit2 allowances expiring > 30 days ahead) · Warning ·
     ``approval_farming`` — to a contract that is not a verified protocol.
   - ``SET_APPROVAL_FOR_ALL_UNKNOWN_CONTRACT`` · Warning · ``set_approval_for_all``;
     ``ERC777_OPERATOR_UNKNOWN_CONTRACT`` · Warning · ``approval_farming`` /
     ``operator_unknown_contract`` — an operator to an unverified contract.
   - ``TOKEN_APPROVAL``, ``SET_APPROVAL_FOR_ALL``, ``APPROVAL_REVOKE`` · Info — a grant to a
     verified protocol, a small bounded allowance, a single NFT, or a revocation: Benign.
   - Cannot: on-chain ERC-20 allowances never expire, so duration is not held against them (an
     exact small approval to a new dapp stays Benign); a verified protocol's own risk is not judged.

4. Permits (``rules_permits``; typed data), same judge with ``PERMIT_*`` ids — EIP-2612 ``Permit``
(DAI's variant too), Permit2
``PermitSingle``/``PermitBatch``/``Permit[Batch][Witness]TransferFrom``,
the calls of a Safe ``SafeTx`` (the Safe's assets), and any struct with a ``spender``, ``operator``
or
``delegate`` address (an operator/delegate with no amount is unlimited).

   - ``PERMIT_TO_EOA`` · Malicious · ``permit_farming`` / ``permit_to_eoa`` — the grantee has no
     code:
     signing hands the tokens over, no transaction needed.
   - ``PERMIT_UNLIMITED`` (``unlimited_permit``) / ``PERMIT_LARGE`` (``large_permit``) /
     ``PERMIT_LONG_EXPIRY`` (``long_lived_permit``) · Warning · ``permit_farming`` — unlimited, ≥
     50 %
     of the balance, or no expiry / more than 30 days (Permit2: ``expiration``, or ``sigDeadline``
     when it is 0), to an unverified contract.
   - ``PERMIT`` / ``PERMIT_REVOKE`` · Info — bounded, short-lived, or for a verified protocol.
   - Cannot: a ``taker`` field is not a grant (private orders name their counterparty there);
     orders are left to rules 5–6.

5. Marketplace orders (``rules_orders``; typed data)

   - ``SEAPORT_UNDERPRICED_LISTING`` · Malicious · ``transfer_farming`` /
     ``seaport_underpriced_listing`` — a Seaport ``OrderComponents`` (or each order of a
     ``BulkOrder``) offers items while what is paid back to the offerer is nothing, dust (only
     native/ERC-20 items of ≤ 1000 base units), less than 50 % of the order's fungible
     consideration (the rest goes to other recipients, whom the filler may control), or, for a
     fungible offer, less than 50 % of the same token offered. ``SEAPORT_ORDER`` · Info otherwise.
   - ``BLUR_UNDERPRICED_LISTING`` · Malicious · ``transfer_farming`` / ``blur_underpriced_listing``
     — a
     Blur ``Order`` on the sell side with price 0, ≤ 1000 base units, or fees of ≥ 50 %.
     ``BLUR_BULK_ORDER`` · Warning · ``transfer_farming`` / ``blind_bulk_order`` — a Blur bulk
     ``Root``:
     a Merkle root of orders whose prices cannot be shown. ``BLUR_ORDER`` · Info otherwise.
   - Cannot: without an NFT price oracle, a low but real price paid in full to the signer is not
     recognised as underpriced.

5b. Prediction-market orders (``rules_ctf_orders``; typed data) — Polymarket CTF Exchange V1/V2
(V3) ``Order`` structs; see that module. ``CTF_ORDER`` · Info (side, price, size, token, max
cost); ``CTF_ORDER_UNKNOWN_EXCHANGE`` / ``CTF_ORDER_FOREIGN_MAKER`` · Malicious ·
``transfer_farming``; ``CTF_ORDER_PRICE_OFF_BOOK`` (against ``ScanInput.reference_prices``),
``CTF_ORDER_FEE_OUT_OF_RANGE`` (V1 ``feeRateBps`` > 1000), ``CTF_ORDER_PRIVATE_TAKER`` (V1
taker not zero nor an operator) · Warning · ``other``. The scan object then carries ``orders``
(``rules_ctf_orders.order_entry``) for the policy's outflow.

6. Typed-data shape (``rules_typed``; typed data)

   - ``TYPED_DATA_NO_CHAIN_ID`` · Warning · ``other`` / ``missing_chain_id`` — the domain has no
     ``chainId``: the signature is valid on every chain. ``TYPED_DATA_CHAIN_MISMATCH``
     (``chain_mismatch``)
     for a direct scanner caller (the wallet already refuses it with ``CHAIN_ID_MISMATCH``).
   - ``TYPED_DATA_MOVES_VALUE`` · Warning · ``transfer_farming`` / ``typed_data_moves_value`` —
     typed
     data no other rule owns whose message has a non-zero amount (``amount``, ``value``, ``price``,
     ``sellAmount``, …) and either a recipient other than the wallet (``to``, ``recipient``,
     ``receiver``,
     ``taker``, …) or an order/withdrawal/transfer-like type name; the fields are named in the
     description. With a verified protocol as ``verifyingContract`` and no foreign recipient it is
     Info ``TYPED_DATA_ORDER`` (e.g. a CoW order paying back to the wallet).
   - ``SAFE_TX`` · Info — a Safe ``SafeTx`` described (to, value, decoded data);
     ``SAFE_TX_DELEGATECALL`` · Warning · ``other`` / ``delegatecall_execution`` — ``operation =
     1``;
     ``SAFE_TX_SETTINGS_CHANGE`` · Warning · ``other`` / ``safe_settings_change`` — a call from the
     Safe to itself (owners, threshold, modules, guard).

7. Address poisoning (``rules_poisoning``; transactions)

   - ``LOOKALIKE_RECIPIENT`` · Malicious · ``address_poisoning`` / ``lookalike_recipient`` — the
     recipient (effective recipient, or the recipient parameter of a token transfer) is not a
     known counterparty but has the same first 4 and last 4 hex characters (case-insensitive) as
     one, or as the wallet itself: the user probably copied a planted lookalike from history.
   - ``ZERO_VALUE_TRANSFER_FROM`` · Warning · ``address_poisoning`` / ``zero_value_transfer`` —
     an ERC-20 ``transferFrom(from ≠ wallet, to, 0)``: moves nothing, only plants fake history.
   - ``ZERO_VALUE_TRANSFER_FLOOD`` · Warning · ``address_poisoning`` /
     ``zero_value_transfer_flood`` — the simulation shows ≥ 3 zero-delta balance changes on
     lookalikes of known addresses.

8. Transfers (``rules_transfers``; transactions)

   - ``TRANSFER_TO_TOKEN_CONTRACT`` · Warning · ``other`` / ``transfer_to_token_contract`` —
     ERC-20/721/1155 tokens sent to the token's own contract: lost for good.
   - ``TRANSFER_TO_ZERO_ADDRESS`` / ``NATIVE_TO_ZERO_ADDRESS`` · Warning · ``other`` /
     ``transfer_to_zero_address`` — tokens or native coin sent to the zero address: burned.
   - ``OUTFLOW_WITHOUT_RETURN`` · Warning · ``transfer_farming`` / ``outflow_without_return`` —
     the simulation shows the wallet's tokens (or native value the tx itself sends; gas does not
     count) leaving, nothing coming back, the tx goes to a contract, and the effective recipient
     is that or another contract that is neither used before nor a verified protocol: the fake
     claim/mint/airdrop drainer shape. A native transfer or an ERC-20 transfer to a plain account
     is Benign.
   - ``FAKE_RETURN_TOKEN`` · Warning · ``transfer_farming`` / ``fake_return_token`` — the same, but
     something does come back, only none of it is of known value: a return counts only when it is
     the native coin or a token on the chain's token list (devnet tokens on 31337), or a token the
     decoded call trades (``token*``/``currency*``/``asset*`` parameters, swap paths), and is more
     than
     1000 base units. Any contract can emit Transfer events of a "token" it made up (the drainer
     that mints itself to look like a swap). Cannot: a return of a little of a real token (1 USDC
     for 1 ETH) is not priced here (the policy's USD outflow limit measures that); a genuine first
     mint from an unlisted collection gets this Warning too.

9. Admin actions (``rules_admin``; transactions, inner calls included) · Warning · ``other``

   - ``OWNERSHIP_TRANSFER`` / ``OWNERSHIP_RENOUNCE`` (``ownership_transfer``) —
     ``transferOwnership`` hands every admin power to someone else; ``renounceOwnership``
     abandons it for ever.
   - ``PROXY_UPGRADE`` / ``PROXY_ADMIN_CHANGE`` (``proxy_upgrade``) — ``upgradeTo``,
     ``upgradeToAndCall``, ProxyAdmin ``upgrade``/``upgradeAndCall``, ``changeAdmin``,
     ``changeProxyAdmin``: new code (or a new admin who can install any code) over what the proxy
     holds.
   - ``SAFE_DELEGATECALL`` (``delegatecall_execution``) — Safe ``execTransaction`` /
     ``execTransactionFromModule`` with ``operation == 1``: the target's code runs as the Safe.
   - ``EIP7702_DELEGATION`` (``eip7702_delegation``) — the tx carries an EIP-7702
     ``authorizationList``: the account will run the delegate's code, which can spend everything.
     Delegating to the zero address (clearing) is only Info ``EIP7702_DELEGATION_CLEAR``.

Remote scanners implement :class:`Scanner` (``scan(inp) -> list[Feature]``) and get the same
input (with calldata decoded and ``is_contract``/``balance_of`` memoised). Nothing heavier than the
standard library is imported at module import; the decoder is loaded only when needed.
"""

from __future__ import annotations

from ._base import Feature, ScanInput, Scanner, ScanResult
from .engine import LOCAL_RULES, aggregate, scan
from .rules_ctf_orders import reference_prices
from .rules_denylist import BUILTIN_DENYLIST, load_denylist

__all__ = [
    "BUILTIN_DENYLIST",
    "LOCAL_RULES",
    "Feature",
    "ScanInput",
    "ScanResult",
    "Scanner",
    "aggregate",
    "load_denylist",
    "reference_prices",
    "scan",
]
