"""The devnet market service's API keys: L1 (a ``ClobAuth`` EIP-712 signature, recovered and
compared with ``POLY_ADDRESS``) derives them deterministically per address and nonce from a
per-process secret; L2 (HMAC of ``timestamp ‖ METHOD ‖ path ‖ body`` under the key's secret,
passphrase and address checked) authenticates each trading request and lists the address's
keys (``GET /auth/api-keys``). Both within
:data:`AUTH_WINDOW` of the service's clock.

:class:`ApiKeyAuth` is a part of :class:`mm_agent.markets.service.MarketService`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import uuid

from mm_agent.errors import PredictAuthError

from . import orders
from .market_book import _now

__all__ = ["AUTH_WINDOW", "ApiKeyAuth"]

AUTH_WINDOW = 600  # seconds an L1/L2 timestamp may differ from the service's clock


class ApiKeyAuth:
    """Derives and checks API credentials; the state lives on the service."""

    chain_id: int
    lock: threading.RLock
    _secret: bytes
    keys: dict[str, dict[str, str]]  # apiKey → {address, secret, passphrase}

    def _creds_for(self, address: str, nonce: int) -> dict[str, str]:
        seed = hmac.new(self._secret, f"{address.lower()}:{nonce}".encode(), hashlib.sha256)
        raw = seed.digest()
        api_key = str(uuid.UUID(bytes=raw[:16], version=4))
        secret = base64.urlsafe_b64encode(hashlib.sha256(raw + b"secret").digest()).decode()
        passphrase = hashlib.sha256(raw + b"passphrase").hexdigest()[:32]
        self.keys[api_key] = {"address": address, "secret": secret, "passphrase": passphrase}
        return {"apiKey": api_key, "secret": secret, "passphrase": passphrase}

    def verify_l1(self, headers: dict[str, str]) -> tuple[str, int]:
        from eth_keys import keys
        from eth_utils import to_checksum_address

        from mm_agent.evm.signing import typed_data_digest

        try:
            address = to_checksum_address(headers["poly_address"])
            ts = int(headers["poly_timestamp"])
            nonce = int(headers.get("poly_nonce") or 0)
            sig = bytes.fromhex(headers["poly_signature"].removeprefix("0x"))
        except (KeyError, ValueError) as exc:
            raise PredictAuthError("Missing or malformed L1 headers.") from exc
        if abs(_now() - ts) > AUTH_WINDOW:
            raise PredictAuthError("L1 timestamp outside the allowed window.")
        typed = orders.clob_auth_typed_data(address, chain_id=self.chain_id, timestamp=ts,
                                            nonce=nonce)
        digest = bytes.fromhex(typed_data_digest(typed)[2:])
        if len(sig) != 65:
            raise PredictAuthError("Invalid L1 signature.")
        v = sig[64] - 27 if sig[64] >= 27 else sig[64]
        try:
            signer = keys.Signature(sig[:64] + bytes([v])).recover_public_key_from_msg_hash(
                digest).to_checksum_address()
        except Exception as exc:
            raise PredictAuthError("Invalid L1 signature.") from exc
        if signer != address:
            raise PredictAuthError("The L1 signature is not POLY_ADDRESS's.")
        return address, nonce

    def api_key(self, headers: dict[str, str]) -> dict[str, str]:
        address, nonce = self.verify_l1(headers)
        with self.lock:
            return self._creds_for(address, nonce)

    def verify_l2(self, method: str, path: str, body: str, headers: dict[str, str]
                  ) -> tuple[str, str]:
        """(address, apiKey) of a valid L2 request."""
        key = self.keys.get(headers.get("poly_api_key", ""))
        if key is None:
            raise PredictAuthError("Unknown API key.")
        try:
            ts = int(headers["poly_timestamp"])
        except (KeyError, ValueError) as exc:
            raise PredictAuthError("Missing POLY_TIMESTAMP.") from exc
        if abs(_now() - ts) > AUTH_WINDOW:
            raise PredictAuthError("L2 timestamp outside the allowed window.")
        if not hmac.compare_digest(headers.get("poly_passphrase", ""), key["passphrase"]):
            raise PredictAuthError("Wrong passphrase.")
        if headers.get("poly_address", "").lower() != key["address"].lower():
            raise PredictAuthError("POLY_ADDRESS is not the key's address.")
        expected = orders.hmac_signature(key["secret"], ts, method, path, body or None)
        if not hmac.compare_digest(headers.get("poly_signature", ""), expected):
            raise PredictAuthError("Invalid L2 signature.")
        return key["address"], headers["poly_api_key"]

    def api_keys_of(self, address: str) -> list[str]:
        """The API keys derived for ``address`` (``GET /auth/api-keys``, L2)."""
        with self.lock:
            return [k for k, v in self.keys.items() if v["address"].lower() == address.lower()]
