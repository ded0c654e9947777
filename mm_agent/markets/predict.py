"""`mm predict` as a Python API: :class:`Predict` over a wallet, MM_HOME and a back end.

Back ends (``mm predict mode``): ``devnet`` — the market service that ``mm devnet start``
runs over the devnet's Conditional Tokens and DevnetCtfExchange (its URL is in
``devnet.json["markets"]["service"]``); ``testnet`` (Polygon Amoy, 80002) and ``mainnet``
(Polygon, 137) — Polymarket's CLOB and Gamma APIs at the config's ``predict.<mode>.clobUrl`` /
``predict.<mode>.gammaUrl`` (defaults :data:`DEFAULT_CLOB_URL`, :data:`DEFAULT_GAMMA_URL`), the
chain at ``rpc.<chainId>`` (else the chain registry's public RPC), and the CTF Exchange V2,
its collateral (pUSD) and the Conditional Tokens from the verified registry the caller passes
(``contracts``: the handlers read ``security/scan/known_protocols.py``; this layer sits below
the security package). On a real network, markets come from Gamma (``clob_token_ids``,
``condition_ids``, ``slug`` filters); positions are read on chain for the outcome tokens this
client has traded (no data-API).

Every write goes through the wallet, hence through the security pipeline: the ``ClobAuth``
message and each order are typed data (``wallet.sign_typed_data``; orders are recognised by
threat rule 5b, checked against the book's prices with
:func:`mm_agent.security.scan.reference_prices`, and the policy counts a BUY's worst case as
outflow); approvals and redemptions are transactions (``wallet.send_transaction``). The
exchange an order is signed for is the one in the local devnet record (devnet) or the verified
registry (testnet/mainnet), never one a service names.

``predict.json`` (MM_HOME, 0600, atomic)::

    {"version": 1, "mode": "devnet",
     "accounts": {"<address lower>": {"<mode>": {"credentials": bool, "setupAt",
                                                 "setupTxs": [...]}}},
     "orders": [{"orderId", "mode", "address", "tokenId", "conditionId", "side", "price",
                 "size", "orderType", "status", "filledSize", "txHashes", "createdAt"}],
     "history": [{"kind": "setup|approve|deposit|withdraw|order|cancel|redeem", "id", "at",
                  ...}]}

API credentials are never stored: each process re-derives them with one ``ClobAuth``
signature (the service's derivation is deterministic per address and nonce); ``auth`` shows
the key id and checks it with an L2 request, never the secret or passphrase.

Geoblock (testnet/mainnet): setup, approve, deposit and place ask Polymarket's geoblock check
first and are refused (``PREDICT_GEOBLOCKED``) before anything is signed when this address may
not trade — except a sell of held outcome tokens in a close-only jurisdiction — and fail
closed (``PREDICT_GEOBLOCK_UNAVAILABLE``) without an answer; cancel, redeem and withdraw never
ask (:mod:`.predict_geoblock`). The devnet is never geoblocked.

Devnet funding: the wallet's own mUSD is the collateral (there is no pUSD and no deposit
wallet: orders are EOA orders, signature type 0). ``deposit --amount X`` therefore converts
nothing: it checks X against the mUSD balance and makes sure the exchange may spend it (an
``approve`` through the pipeline when the allowance is short); ``withdraw --amount X --to A``
is an mUSD transfer to ``A`` (nothing to do without ``--to``).

An order counts as filled only with a receipt: the settlement transaction's receipt (status 1)
and its ``OrderFilled`` log for this order's hash, read from the chain by this client.
"""

from __future__ import annotations

from .predict_positions import PredictPositions, resolve_devnet_market
from .predict_state import (
    DEFAULT_CLOB_URL,
    DEFAULT_GAMMA_URL,
    MODES,
    NETWORKS,
    PREDICT_FILE,
    read_state,
    set_mode,
    validate_place,
)

__all__ = ["DEFAULT_CLOB_URL", "DEFAULT_GAMMA_URL", "MODES", "NETWORKS", "PREDICT_FILE", "Predict",
           "read_state", "resolve_devnet_market", "set_mode", "validate_place"]


class Predict(PredictPositions):
    """One wallet's prediction-market account on the selected back end.

    The layers, one module each: :mod:`.predict_state` (modes, ``predict.json``, validation),
    :mod:`.predict_base` (back end, chain reads, market data, the one transaction path),
    :mod:`.predict_account` (status, geoblock, setup, auth, approve, deposit, withdraw),
    :mod:`.predict_trading` (orders, cancels), :mod:`.predict_positions` (positions, redeem,
    history, watch)."""
