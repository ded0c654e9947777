"""Polymarket's geoblock check for `mm predict` on a real network (testnet/mainnet).

``GET <geoblockUrl>/api/geoblock`` (Polymarket serves it on ``https://polymarket.com``, not on
the CLOB; the base URL is the config's ``predict.<mode>.geoblockUrl``, env
``MM_PREDICT_<MODE>_GEOBLOCK_URL``) answers for the requesting IP address::

    {"blocked": true, "ip": "203.0.113.42", "country": "US", "region": "NY"}

``blocked`` says whether that address may place orders. Polymarket's published jurisdictions
(docs.polymarket.com/api-reference/geoblock) come in two kinds: OFAC-sanctioned ones are
blocked completely (no new orders, no closing of positions); the regulatory-restricted ones are
*close-only* (existing positions may be closed, none opened). The endpoint itself does not say
which kind applies, so :func:`restriction` reads the country / ``country-region`` code against
the lists below, and a blocked location on neither list counts as blocked completely (fail
closed: a list that went stale must never let an order through).

What the client does with it (``Predict.check_geoblock``): the commands that open or fund a
position — ``setup``, ``approve``, ``deposit``, ``place`` — are refused with
``PREDICT_GEOBLOCKED`` before anything is signed, except, in a close-only jurisdiction, a SELL
of outcome tokens the wallet holds (closing a position). ``cancel``, ``redeem`` and
``withdraw`` never ask: leaving a position stays possible. When the check cannot be made
(no answer, an error status, a reply without a boolean ``blocked``) the gated commands fail
closed with ``PREDICT_GEOBLOCK_UNAVAILABLE``. The devnet is local and never geoblocked.

The request goes out like the CLOB client's (``httpx``, ``trust_env=False``): the address
checked is the one orders would come from.
"""

from __future__ import annotations

from typing import Any

from mm_agent.errors import PredictGeoblockUnavailable

__all__ = ["BLOCK_COMPLETELY", "CLOSE_ONLY", "DEFAULT_GEOBLOCK_URL", "GATED", "GEOBLOCK_PATH",
           "GEOBLOCK_TIMEOUT", "fetch_geoblock", "jurisdiction", "restriction"]

DEFAULT_GEOBLOCK_URL = "https://polymarket.com"
GEOBLOCK_PATH = "/api/geoblock"
GEOBLOCK_TIMEOUT = 10.0  # seconds; a slower answer is no answer (the gated commands fail closed)
# The commands that open or fund a position (refused when blocked).
GATED = ("setup", "approve", "deposit", "place")

# docs.polymarket.com/api-reference/geoblock: "OFAC-Sanctioned Jurisdictions (Block
# Completely)" — no new orders and no closing of existing positions.
BLOCK_COMPLETELY = frozenset({"IR", "SY", "CU", "KP", "UA-43", "UA-14", "UA-09"})
# "Regulatory-Restricted Jurisdictions (Close-Only on Frontend and API)". The frontend-only
# close-only group (the API is not restricted there) is left out: the endpoint answers
# ``blocked: false`` for it.
CLOSE_ONLY = frozenset({
    "AU", "BY", "BE", "BI", "BR", "CA-BC", "CA-ON", "CA-AB", "CA-QC", "CF", "CD", "ET", "FR",
    "DE", "IQ", "IT", "LB", "LY", "MM", "NZ", "NI", "PL", "RU", "SG", "SO", "SK", "SS", "SD",
    "TW", "TH", "GB", "US", "UM", "VE", "YE", "ZW",
})


def jurisdiction(country: str | None, region: str | None) -> tuple[str, ...]:
    """The codes a location matches: ``("CA", "CA-ON")`` for country CA, region ON."""
    c = (country or "").strip().upper()
    r = (region or "").strip().upper()
    if not c:
        return ()
    return (c, f"{c}-{r}") if r else (c,)


def restriction(status: dict[str, Any]) -> str:
    """``none``, ``close-only`` or ``blocked`` for a geoblock reply."""
    if not status.get("blocked"):
        return "none"
    codes = set(jurisdiction(status.get("country"), status.get("region")))
    if codes & BLOCK_COMPLETELY:
        return "blocked"
    if codes & CLOSE_ONLY:
        return "close-only"
    return "blocked"  # a blocked place on neither list: the stricter reading


def fetch_geoblock(base_url: str, *, timeout: float = GEOBLOCK_TIMEOUT) -> dict[str, Any]:
    """``{blocked, ip, country, region, restriction, url}`` from the endpoint, or
    :class:`~mm_agent.errors.PredictGeoblockUnavailable` when there is no usable answer."""
    import httpx

    from mm_agent.evm.rpc import redact_url

    url = base_url.rstrip("/") + GEOBLOCK_PATH
    shown = redact_url(url)  # a configured URL may carry credentials: never in a message
    try:
        with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=True) as http:
            resp = http.get(url)
    except httpx.HTTPError as exc:
        raise PredictGeoblockUnavailable(
            f"The geoblock check at {shown} did not answer ({type(exc).__name__}); nothing "
            "was signed.", details={"url": shown}) from exc
    try:
        payload = resp.json()
    except ValueError:
        payload = None
    if resp.status_code != 200 or not isinstance(payload, dict) \
            or not isinstance(payload.get("blocked"), bool):
        raise PredictGeoblockUnavailable(
            f"The geoblock check at {shown} gave no usable answer (HTTP {resp.status_code}); "
            "nothing was signed.", details={"url": shown, "status": resp.status_code})
    out = {"blocked": payload["blocked"], "ip": _text(payload.get("ip")),
           "country": _text(payload.get("country")), "region": _text(payload.get("region"))}
    return {**out, "restriction": restriction(out), "url": shown}


def _text(value: Any) -> str:
    return "" if value is None else str(value)
