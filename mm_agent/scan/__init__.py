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
``UNDECODED_CALLDATA`` is added. "Contract" below means ``is_contract(address)`` is true (the
caller asks the node for code); "known" means the address is in ``known_counterparties`` (the
addresses this wallet dealt with before). Amounts ≥ 2**128 base units (or Permit2's max uint160)
count as unlimited.

Rules, in evaluation order (module · featureId · type · reason / classification — meaning):

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

3. Approvals (``rules_approvals``; transactions, inner multicall/Safe calls included; from the
   simulation's ``exposures`` when it has any, decoded calldata fills the gaps)

   - ``APPROVAL_TO_EOA`` · Malicious · ``approval_farming`` / ``approval_to_eoa`` — ERC-20
     ``approve``/``increaseAllowance``, Permit2 ``approve`` or an ERC-721 ``approve`` to an
     account without code: whoever holds it can take the tokens.
   - ``UNLIMITED_APPROVAL_UNKNOWN_CONTRACT`` · Warning · ``approval_farming`` /
     ``unlimited_approval`` — unlimited allowance to a contract the wallet never used.
   - ``SET_APPROVAL_FOR_ALL_TO_EOA`` · Malicious · ``set_approval_for_all`` /
     ``set_approval_for_all_to_eoa`` — ``setApprovalForAll(operator, true)`` to an account
     without code: it can take every NFT of the collection (the NFT-drainer pattern).
   - ``SET_APPROVAL_FOR_ALL_UNKNOWN_CONTRACT`` · Warning · ``set_approval_for_all`` /
     ``set_approval_for_all_unknown_contract`` — the same to a contract never used before.
   - ``TOKEN_APPROVAL``, ``SET_APPROVAL_FOR_ALL``, ``APPROVAL_REVOKE`` · Info — exact-amount
     approval to a contract, operator approval to a known contract, revocation: Benign.

4. Permits and orders (``rules_permits``; typed data)

   - ``PERMIT_TO_EOA`` · Malicious · ``permit_farming`` / ``permit_to_eoa`` — an EIP-2612
     ``Permit`` (DAI's variant too), Permit2 ``PermitSingle``/``PermitBatch``/
     ``Permit[Batch][Witness]TransferFrom``, or any typed data whose message has a ``spender``,
     naming an account without code as spender: signing hands the tokens over, no transaction
     needed.
   - ``PERMIT_UNLIMITED`` (``unlimited_permit``) / ``PERMIT_LONG_EXPIRY``
     (``long_lived_permit``) · Warning · ``permit_farming`` — unlimited amount, or no expiry /
     expiry more than 30 days ahead (max-uint deadlines included; for Permit2 allowances the
     ``expiration``, or ``sigDeadline`` when expiration is 0), to a contract the wallet never used.
   - ``PERMIT`` / ``PERMIT_REVOKE`` · Info — bounded, short-lived or for a known contract.
   - ``SEAPORT_UNDERPRICED_LISTING`` · Malicious · ``transfer_farming`` /
     ``seaport_underpriced_listing`` — a Seaport ``OrderComponents`` (or each order of a
     ``BulkOrder``) offers items while the consideration paid back to the offerer is empty, zero
     or dust (only native/ERC-20 items of ≤ 1000 base units): anyone could fill it and take the
     items for free. ``SEAPORT_ORDER`` · Info otherwise.

5. Address poisoning (``rules_poisoning``; transactions)

   - ``LOOKALIKE_RECIPIENT`` · Malicious · ``address_poisoning`` / ``lookalike_recipient`` — the
     recipient (effective recipient, or the recipient parameter of a token transfer) is not a
     known counterparty but has the same first 4 and last 4 hex characters (case-insensitive) as
     one, or as the wallet itself: the user probably copied a planted lookalike from history.
   - ``ZERO_VALUE_TRANSFER_FROM`` · Warning · ``address_poisoning`` / ``zero_value_transfer`` —
     an ERC-20 ``transferFrom(from ≠ wallet, to, 0)``: moves nothing, only plants fake history.
   - ``ZERO_VALUE_TRANSFER_FLOOD`` · Warning · ``address_poisoning`` /
     ``zero_value_transfer_flood`` — the simulation shows ≥ 3 zero-delta balance changes on
     lookalikes of known addresses.

6. Transfers (``rules_transfers``; transactions)

   - ``TRANSFER_TO_TOKEN_CONTRACT`` · Warning · ``other`` / ``transfer_to_token_contract`` —
     ERC-20/721/1155 tokens sent to the token's own contract: lost for good.
   - ``TRANSFER_TO_ZERO_ADDRESS`` / ``NATIVE_TO_ZERO_ADDRESS`` · Warning · ``other`` /
     ``transfer_to_zero_address`` — tokens or native coin sent to the zero address: burned.
   - ``OUTFLOW_WITHOUT_RETURN`` · Warning · ``transfer_farming`` / ``outflow_without_return`` —
     the simulation shows the wallet's tokens (or native value the tx itself sends; gas does not
     count) leaving, nothing coming back, the tx goes to a contract, and the effective recipient
     is that or another contract the wallet never used: the fake claim/mint/airdrop drainer
     shape. A native transfer or an ERC-20 transfer to a plain account is Benign.

7. Admin actions (``rules_admin``; transactions, inner calls included) · Warning · ``other``

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
input (with calldata decoded and ``is_contract`` memoised). Nothing heavier than the standard
library is imported at module import; the decoder is loaded only when needed.
"""

from __future__ import annotations

from ._base import Feature, ScanInput, Scanner, ScanResult
from .engine import LOCAL_RULES, aggregate, scan
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
    "scan",
]
