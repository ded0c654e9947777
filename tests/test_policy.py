"""The policy document (parse, dump, template, broadening) and its evaluation (contract §6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mm_agent.errors import InvalidPolicyYaml, ValidationError
from mm_agent.security.pipeline import PolicyResult, Preview
from mm_agent.security.policy.document import (
    PolicyDocument,
    broadening_changes,
    default_policy,
    dump_policy,
    is_broadening,
    mode_change_is_broadening,
    parse_policy,
    template,
    tightening_changes,
)
from mm_agent.security.policy.evaluate import evaluate, outflow_assets, price_outflow
from mm_agent.security.policy.prices import StaticPrices

WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CAROL = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
EVIL = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OTHER_TOKEN = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
ROUTER = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
BAD_CHECKSUM = EVIL.replace("0x90F7", "0x90f7")

VALID = f"""\
schema_version: 1
wallet_address: "{WALLET}"
addresses:
  allowlist: ["{TOKEN}", "{ROUTER}"]
  blocklist: ["{EVIL}"]
evm:
  allowed_chains: [1, 8453, 31337]
  token_recipients:
    allowlist: ["{BOB}"]
  outflow_limits_usd:
    rolling_24h: 1000
"""


def doc(**changes: Any) -> PolicyDocument:
    base = parse_policy(VALID, wallet_address=WALLET)
    return PolicyDocument(**{**base.__dict__, **changes})


# --- parsing ----------------------------------------------------------------------------------
def test_valid_document_parses() -> None:
    d = parse_policy(VALID, wallet_address=WALLET.lower())
    assert d.schema_version == 1 and d.wallet_address == WALLET
    assert d.allowlist == (TOKEN, ROUTER) and d.blocklist == (EVIL,)
    assert d.allowed_chains == (1, 8453, 31337) and d.token_recipients == (BOB,)
    assert d.rolling_24h_usd == Decimal(1000)


def test_addresses_checksummed_deduplicated_and_unquoted_hex_kept() -> None:
    text = VALID.replace(f'allowlist: ["{BOB}"]',
                         f"allowlist: [{BOB.lower()}, {BOB.upper().replace('0X', '0x')}, {CAROL}]")
    d = parse_policy(text, wallet_address=WALLET)
    assert d.token_recipients == (BOB, CAROL)  # unquoted 0x… is not read as a number


def test_wallet_address_optional_and_filled() -> None:
    text = "\n".join(line for line in VALID.splitlines() if "wallet_address" not in line)
    assert parse_policy(text, wallet_address=WALLET).wallet_address == WALLET


def test_empty_list_values_and_decimal_limit() -> None:
    text = VALID.replace(f'blocklist: ["{EVIL}"]', "blocklist:").replace(
        "rolling_24h: 1000", "rolling_24h: 1000.10")
    d = parse_policy(text, wallet_address=WALLET)
    assert d.blocklist == ()
    assert d.rolling_24h_usd == Decimal("1000.10")  # exact, never through float


@pytest.mark.parametrize(("text", "needle"), [
    ("- 1\n- 2\n", "got a list"),
    ("just a string\n", "got text"),
    ("42\n", "got a number"),
    ("", "empty"),
    ("# only a comment\n", "empty"),
    (VALID.replace("schema_version: 1\n", ""), "schema_version: missing"),
    (VALID.replace("schema_version: 1", "schema_version: 2"), "schema_version: 2 is not"),
    (VALID.replace("schema_version: 1", 'schema_version: "1"'), "schema_version: '1' is not"),
    (VALID.replace("schema_version: 1", "schema_version: 1.0"), "schema_version:"),
    (VALID + "extra: 1\n", "extra: unknown key"),
    (VALID.replace("  blocklist:", "  blocklits:"), "addresses.blocklits: unknown key"),
    (VALID.replace("  blocklist:", "  blocklits:"), "allowed here: allowlist, blocklist"),
    (VALID.replace("    allowlist: [\"" + BOB, "    allow: [\"" + BOB),
     "evm.token_recipients.allow: unknown key"),
    (VALID.replace("    rolling_24h: 1000", "    rolling_24h: 1000\n    daily: 5"),
     "evm.outflow_limits_usd.daily: unknown key"),
    (VALID.replace("addresses:\n  allowlist", "addresses:\n  - x\n  allowlist"), "line"),
    (VALID.replace(f'  blocklist: ["{EVIL}"]\n', ""), "addresses.blocklist: missing"),
    (VALID.replace("    rolling_24h: 1000\n", ""), "evm.outflow_limits_usd: expected a mapping"),
    (VALID.replace(f'allowlist: ["{BOB}"]', f'allowlist: ["{BOB}", "{CAROL}", "0x12"]'),
     "evm.token_recipients.allowlist[2]: 0x12 is not an EVM address"),
    (VALID.replace(f'allowlist: ["{BOB}"]', "allowlist: [5]"),
     "evm.token_recipients.allowlist[0]: 5 is not an EVM address"),
    (VALID.replace(f'allowlist: ["{BOB}"]', "allowlist: bob"),
     "evm.token_recipients.allowlist: expected a list of addresses, got text"),
    (VALID.replace(f'blocklist: ["{EVIL}"]', f'blocklist: ["{BAD_CHECKSUM}"]'),
     f"addresses.blocklist[0]: {BAD_CHECKSUM} has an invalid EIP-55 checksum"),
    (VALID.replace("[1, 8453, 31337]", "[1, 0]"), "evm.allowed_chains[1]: 0 is not a chain id"),
    (VALID.replace("[1, 8453, 31337]", "[-5]"), "evm.allowed_chains[0]: -5 is not a chain id"),
    (VALID.replace("[1, 8453, 31337]", "[1, mainnet]"), "evm.allowed_chains[1]: mainnet"),
    (VALID.replace("[1, 8453, 31337]", "[999999999]"),
     "evm.allowed_chains[0]: 999999999 is not a known chain"),
    (VALID.replace("[1, 8453, 31337]", "1"), "evm.allowed_chains: expected a list"),
    (VALID.replace("rolling_24h: 1000", "rolling_24h: -1"),
     "evm.outflow_limits_usd.rolling_24h: -1 is negative"),
    (VALID.replace("rolling_24h: 1000", "rolling_24h: lots"),
     "evm.outflow_limits_usd.rolling_24h: 'lots' is not a number"),
    (VALID.replace("rolling_24h: 1000", "rolling_24h: true"),
     "evm.outflow_limits_usd.rolling_24h: expected a USD amount"),
    (VALID.replace("rolling_24h: 1000", "rolling_24h: .inf"), "not a finite number"),
    (VALID.replace("rolling_24h: 1000", "rolling_24h:"), "rolling_24h: expected a USD amount"),
    (VALID.replace(f'"{WALLET}"', f'"{BOB}"'), f"wallet_address: {BOB} is not this wallet"),
    (VALID.replace('wallet_address: "', 'wallet_address: "0x1'), "wallet_address: 0x1"),
    (VALID + "addresses: {}\n", "duplicate key 'addresses'"),
    ("schema_version: [1\n", "not valid YAML"),
    ("addresses: {}\n", "schema_version: missing"),
    ("schema_version: 1\nevm: {}\n", "addresses: missing"),
])
def test_invalid_documents(text: str, needle: str) -> None:
    with pytest.raises(InvalidPolicyYaml) as exc:
        parse_policy(text, wallet_address=WALLET)
    assert exc.value.code == "INVALID_POLICY_YAML"
    assert needle in exc.value.message, exc.value.message


def test_dump_round_trips_in_contract_layout() -> None:
    d = doc(rolling_24h_usd=Decimal("2500.5"))
    text = dump_policy(d)
    assert parse_policy(text, wallet_address=WALLET) == d
    keys = [line.strip().split(":")[0] for line in text.splitlines()
            if not line.strip().startswith("-")]
    assert keys == ["schema_version", "wallet_address", "addresses", "allowlist", "blocklist",
                    "evm", "allowed_chains", "token_recipients", "allowlist",
                    "outflow_limits_usd", "rolling_24h"]
    assert "rolling_24h: 2500.5\n" in text and f'    - "{ROUTER}"' in text


def test_default_policy_dump_is_the_contract_template_shape() -> None:
    text = dump_policy(default_policy(WALLET.lower()))
    assert text == (
        "schema_version: 1\n"
        f'wallet_address: "{WALLET}"\n'
        "addresses:\n  allowlist: []\n  blocklist: []\n"
        "evm:\n  allowed_chains: [1, 8453, 31337]\n"
        "  token_recipients:\n    allowlist: []\n"
        "  outflow_limits_usd:\n    rolling_24h: 1000\n")
    assert parse_policy(text, wallet_address=WALLET) == default_policy(WALLET)


def test_template_is_commented_and_parses() -> None:
    text = template()
    assert text.count("#") >= 8
    for field in ("allowlist", "blocklist", "allowed_chains", "token_recipients", "rolling_24h"):
        assert field in text
    assert parse_policy(text, wallet_address=BOB) == default_policy(BOB)
    assert parse_policy(template(WALLET), wallet_address=WALLET) == default_policy(WALLET)


# --- broadening -------------------------------------------------------------------------------
BROADENING = [
    ("allowlist", {"allowlist": (TOKEN, ROUTER, CAROL)}, f"addresses.allowlist: +{CAROL}"),
    ("blocklist", {"blocklist": ()}, f"addresses.blocklist: -{EVIL}"),
    ("allowed_chains", {"allowed_chains": (1, 8453, 31337, 10)}, "evm.allowed_chains: +10"),
    ("token_recipients", {"token_recipients": (BOB, CAROL)},
     f"evm.token_recipients.allowlist: +{CAROL}"),
    ("rolling_24h", {"rolling_24h_usd": Decimal(2000)},
     "evm.outflow_limits_usd.rolling_24h: 1000 → 2000"),
]
TIGHTENING = [
    ("allowlist", {"allowlist": (TOKEN,)}, f"addresses.allowlist: -{ROUTER}"),
    ("blocklist", {"blocklist": (EVIL, CAROL)}, f"addresses.blocklist: +{CAROL}"),
    ("allowed_chains", {"allowed_chains": (1, 31337)}, "evm.allowed_chains: -8453"),
    ("token_recipients", {"token_recipients": ()}, f"evm.token_recipients.allowlist: -{BOB}"),
    ("rolling_24h", {"rolling_24h_usd": Decimal("999.99")},
     "evm.outflow_limits_usd.rolling_24h: 1000 → 999.99"),
]


@pytest.mark.parametrize(("field", "change", "line"), BROADENING, ids=[b[0] for b in BROADENING])
def test_broadening_per_field(field: str, change: dict[str, Any], line: str) -> None:
    old, new = doc(), doc(**change)
    assert broadening_changes(old, new) == [line]
    assert is_broadening(old, new)
    assert tightening_changes(old, new) == []
    # The reverse edit of a broadening is a tightening.
    assert not is_broadening(new, old)
    assert len(tightening_changes(new, old)) == 1


@pytest.mark.parametrize(("field", "change", "line"), TIGHTENING, ids=[t[0] for t in TIGHTENING])
def test_tightening_per_field(field: str, change: dict[str, Any], line: str) -> None:
    old, new = doc(), doc(**change)
    assert broadening_changes(old, new) == []
    assert not is_broadening(old, new)
    assert tightening_changes(old, new) == [line]


def test_mixed_change_lists_only_broadening_and_ignores_case_and_order() -> None:
    new = doc(allowlist=(ROUTER.lower(), TOKEN), blocklist=(EVIL, CAROL),
              rolling_24h_usd=Decimal(5000))
    assert broadening_changes(doc(), new) == [
        "evm.outflow_limits_usd.rolling_24h: 1000 → 5000"]
    assert broadening_changes(doc(), doc()) == []


def test_trading_mode_changes() -> None:
    assert mode_change_is_broadening("guard", "beast")
    assert not mode_change_is_broadening("beast", "guard")
    assert not mode_change_is_broadening("guard", "guard")
    assert not mode_change_is_broadening("beast", "beast")
    with pytest.raises(ValidationError):
        mode_change_is_broadening("guard", "yolo")


# --- evaluation -------------------------------------------------------------------------------
MUSD = {"type": "erc20", "address": TOKEN, "symbol": "mUSD", "decimals": 6, "tokenId": None}
NATIVE = {"type": "native", "address": None, "symbol": None, "decimals": 18, "tokenId": None}
BENIGN = {"resultType": "Benign", "reason": "", "description": ""}


def transfer_data(to: str, amount: int) -> str:
    return "0xa9059cbb" + to[2:].lower().rjust(64, "0") + hex(amount)[2:].rjust(64, "0")


def erc20_transfer(to: str = BOB, amount: int = 5_000_000, *, token: str = TOKEN,
                   chain_id: int = 31337, scan: dict[str, Any] | None = None,
                   extra_changes: list[dict[str, Any]] | None = None,
                   exposures: list[dict[str, Any]] | None = None
                   ) -> tuple[Preview, dict[str, Any]]:
    asset = {**MUSD, "address": token}
    sim = {"success": True, "revertReason": None, "gasUsed": 50_000,
           "balanceChanges": [{"address": WALLET, "asset": asset, "delta": str(-amount)},
                              {"address": to, "asset": asset, "delta": str(amount)},
                              *(extra_changes or [])],
           "exposures": exposures or []}
    decoded = {"functionName": "transfer",
               "params": [{"name": "to", "type": "address", "value": to},
                          {"name": "amount", "type": "uint256", "value": str(amount)}],
               "effectiveRecipient": to}
    preview = Preview("transaction", chain_id, WALLET, f"Transfer to {to}", decoded, sim,
                      scan or BENIGN, PolicyResult(), effective_recipient=to)
    return preview, {"to": token, "value": 0, "data": transfer_data(to, amount)}


def native_transfer(to: str = BOB, value: int = 10**17) -> tuple[Preview, dict[str, Any]]:
    sim = {"success": True, "gasUsed": 21_000, "exposures": [],
           "balanceChanges": [{"address": WALLET, "asset": NATIVE, "delta": str(-value)},
                              {"address": to, "asset": NATIVE, "delta": str(value)}]}
    decoded = {"functionName": None, "params": [], "effectiveRecipient": to}
    return (Preview("transaction", 31337, WALLET, f"Send to {to}", decoded, sim, BENIGN,
                    PolicyResult(), effective_recipient=to),
            {"to": to, "value": value, "data": "0x"})


def run(preview: Preview, tx: dict[str, Any] | None = None, *, mode: str = "guard",
        policy: PolicyDocument | None = None, outflow: Decimal | None = Decimal(5),
        used: Decimal = Decimal(0), **kw: Any) -> PolicyResult:
    return evaluate(policy or doc(), mode, preview, outflow_usd=outflow, window_used_usd=used,
                    tx=tx, **kw)


def rules(result: PolicyResult) -> list[str]:
    return [v["rule"] for v in result.violations]


def test_guard_transfer_inside_every_allowlist_is_allowed() -> None:
    result = run(*erc20_transfer())
    assert isinstance(result, PolicyResult)
    assert (result.decision, result.violations) == ("allow", [])


@pytest.mark.parametrize(("build", "rule", "needle"), [
    (lambda: erc20_transfer(scan={"resultType": "Warning", "reason": "transfer_farming",
                                  "description": "new contract"}), "threat_scan", "Warning"),
    (lambda: erc20_transfer(chain_id=10), "network", "Chain 10 (OP Mainnet)"),
    (lambda: erc20_transfer(token=OTHER_TOKEN), "address_allowlist", OTHER_TOKEN),
    (lambda: erc20_transfer(to=CAROL), "token_recipient", CAROL),
    (lambda: native_transfer(to=CAROL), "token_recipient", CAROL),
])
def test_each_guardrail_alone(build: Any, rule: str, needle: str) -> None:
    result = run(*build())
    assert result.decision == "approval_required"
    assert rules(result) == [rule]
    assert needle in result.violations[0]["message"]


def test_outflow_over_limit_alone() -> None:
    result = run(*erc20_transfer(), outflow=Decimal("1000.01"))
    assert result.decision == "approval_required" and rules(result) == ["outflow_limit"]
    assert "$1000.01" in result.violations[0]["message"]
    assert "$1000.00 rolling limit" in result.violations[0]["message"]


def test_rolling_window_arithmetic() -> None:
    preview, tx = erc20_transfer()
    assert run(preview, tx, outflow=Decimal(400), used=Decimal(600)).decision == "allow"
    over = run(preview, tx, outflow=Decimal("400.01"), used=Decimal(600))
    assert rules(over) == ["outflow_limit"]
    assert "$400.01 plus $600.00" in over.violations[0]["message"]
    # A window already full still lets a request with nothing leaving through.
    assert run(preview, tx, outflow=Decimal(0), used=Decimal(5000)).decision == "allow"
    # Limit 0: every priced outflow asks.
    assert rules(run(preview, tx, policy=doc(rolling_24h_usd=Decimal(0)))) == ["outflow_limit"]


def test_unpriced_outflow_counts_as_over_the_limit() -> None:
    result = run(*erc20_transfer(), outflow=None)
    assert rules(result) == ["outflow_limit"]
    assert "unpriced" in result.violations[0]["message"]
    assert "5000000 units of mUSD" in result.violations[0]["message"]


def test_unpriced_but_nothing_leaving_is_fine() -> None:
    preview, tx = erc20_transfer()
    assert preview.simulation is not None
    preview.simulation["balanceChanges"] = []
    assert run(preview, tx, outflow=None).decision == "allow"


@pytest.mark.parametrize("mode", ["guard", "beast"])
def test_blocklisted_recipient_is_denied_in_every_mode(mode: str) -> None:
    result = run(*erc20_transfer(to=EVIL), mode=mode)
    assert result.decision == "deny"
    assert "blocklist" in rules(result)
    assert any(EVIL in v["message"] for v in result.violations)
    native = run(*native_transfer(to=EVIL), mode=mode)
    assert native.decision == "deny" and "blocklist" in rules(native)


def test_blocklisted_counterparty_in_simulation_and_spender_are_denied() -> None:
    hidden = {"address": EVIL, "asset": MUSD, "delta": "1"}
    result = run(*erc20_transfer(extra_changes=[hidden]), mode="beast")
    assert result.decision == "deny" and rules(result) == ["blocklist"]
    exposure = {"spender": EVIL, "asset": MUSD, "amount": "1", "unlimited": False,
                "expiration": None}
    result = run(*erc20_transfer(exposures=[exposure]), mode="beast")
    assert result.decision == "deny" and rules(result) == ["blocklist"]
    # Someone who only gains an asset the wallet does not lose is not "paid by the wallet".
    airdrop = {"address": EVIL, "asset": {**MUSD, "address": OTHER_TOKEN}, "delta": "1"}
    assert run(*erc20_transfer(extra_changes=[airdrop])).decision == "allow"


def test_blocklisted_called_contract_is_denied() -> None:
    result = run(*erc20_transfer(token=EVIL), mode="beast")
    assert result.decision == "deny"


def test_beast_checks_only_threat_scan_and_blocklist() -> None:
    preview, tx = erc20_transfer(to=CAROL, token=OTHER_TOKEN, chain_id=10)
    assert run(preview, tx, mode="beast", outflow=None).decision == "allow"
    risky, tx = erc20_transfer(to=CAROL, chain_id=10, scan={"resultType": "Malicious",
                                                            "reason": "known_malicious"})
    result = run(risky, tx, mode="beast", outflow=Decimal(10**9))
    assert result.decision == "approval_required" and rules(result) == ["threat_scan"]
    assert "known_malicious" in result.violations[0]["message"]


def test_unknown_mode_fails_closed_as_guard() -> None:
    assert rules(run(*erc20_transfer(to=CAROL), mode="nonsense")) == ["token_recipient"]


def test_several_violations_are_all_listed() -> None:
    result = run(*erc20_transfer(to=CAROL, token=OTHER_TOKEN, chain_id=10), outflow=None)
    assert sorted(rules(result)) == ["address_allowlist", "network", "outflow_limit",
                                     "token_recipient"]
    assert result.decision == "approval_required"


def test_native_transfer_recipient_in_either_list_is_allowed() -> None:
    assert run(*native_transfer(to=BOB)).decision == "allow"  # token_recipients
    assert run(*native_transfer(to=ROUTER)).decision == "allow"  # addresses.allowlist


def test_approval_to_unlisted_spender_needs_approval_in_guard() -> None:
    exposure = {"spender": CAROL, "asset": MUSD, "amount": "10", "unlimited": False,
                "expiration": None}
    preview, tx = erc20_transfer(exposures=[exposure])
    result = run(preview, tx)
    assert rules(result) == ["address_allowlist"] and "Spender" in result.violations[0]["message"]
    exposure["spender"] = ROUTER
    assert run(*erc20_transfer(exposures=[exposure])).decision == "allow"


def test_contract_creation_needs_approval_in_guard() -> None:
    preview, _ = native_transfer()
    preview.decoded = {"functionName": None, "params": [], "effectiveRecipient": None}
    result = run(preview, {"to": None, "value": 0, "data": "0x6080"}, outflow=Decimal(0))
    assert rules(result) == ["address_allowlist"]


def test_without_the_raw_transaction() -> None:
    # A native transfer is recognisable from the decoded call alone.
    preview, _ = native_transfer(to=BOB)
    assert run(preview, None).decision == "allow"
    # A contract call whose target is unknown fails closed in guard, passes in beast.
    preview, _ = erc20_transfer()
    assert rules(run(preview, None)) == ["address_allowlist"]
    assert run(preview, None, mode="beast").decision == "allow"
    # ...unless the decoded call carries `to`.
    assert preview.decoded is not None
    preview.decoded["to"] = TOKEN
    assert run(preview, None).decision == "allow"


def permit(spender: str = ROUTER, contract: str = TOKEN) -> dict[str, Any]:
    return {"types": {}, "primaryType": "Permit",
            "domain": {"name": "Mock USD", "chainId": 31337, "verifyingContract": contract},
            "message": {"owner": WALLET, "spender": spender, "value": "1", "nonce": 0,
                        "deadline": 1}}


def typed_preview(chain_id: int = 31337, scan: dict[str, Any] | None = None) -> Preview:
    return Preview("typed-data", chain_id, WALLET, "Sign Permit", {
        "functionName": "Permit", "params": [], "effectiveRecipient": None}, None,
        scan or BENIGN, PolicyResult())


def test_typed_data_checks() -> None:
    assert run(typed_preview(), typed_data=permit()).decision == "allow"
    unlisted = run(typed_preview(), typed_data=permit(spender=CAROL))
    assert rules(unlisted) == ["address_allowlist"] and CAROL in unlisted.violations[0]["message"]
    wrong_contract = run(typed_preview(), typed_data=permit(contract=OTHER_TOKEN))
    assert rules(wrong_contract) == ["address_allowlist"]
    assert run(typed_preview(), typed_data=permit(spender=EVIL), mode="beast").decision == "deny"
    assert rules(run(typed_preview(10), typed_data=permit())) == ["network"]
    # Payload not available: guard cannot check it and asks; beast does not look.
    assert rules(run(typed_preview())) == ["address_allowlist"]
    assert run(typed_preview(), mode="beast").decision == "allow"
    # Permits are exposures, not outflows.
    assert outflow_assets(typed_preview()) == []


def test_message_checks_scan_and_network_only() -> None:
    msg = Preview("message", 31337, WALLET, 'Sign message "hi"', None, None, BENIGN,
                  PolicyResult())
    assert run(msg, outflow=None).decision == "allow"
    msg.chain_id = 137
    assert rules(run(msg, outflow=None)) == ["network"]
    assert run(msg, outflow=None, mode="beast").decision == "allow"
    msg.scan = {"resultType": "Error", "reason": "scanner down"}
    assert rules(run(msg, outflow=None, mode="beast")) == ["threat_scan"]


def test_outflow_assets_reads_only_the_senders_losses() -> None:
    exposure = {"spender": ROUTER, "asset": MUSD, "amount": "999", "unlimited": False,
                "expiration": None}
    gain = {"address": WALLET, "asset": NATIVE, "delta": "7"}
    preview, _ = erc20_transfer(amount=42, extra_changes=[gain], exposures=[exposure])
    assert outflow_assets(preview) == [(MUSD, 42)]
    prices = StaticPrices({"mUSD": "1"})
    assert price_outflow(prices, preview) == Decimal("0.000042")
    assert price_outflow(StaticPrices({}), preview) is None


def test_outflow_without_simulation_falls_back_to_value() -> None:
    preview, tx = native_transfer(value=3)
    preview.simulation = None
    assert outflow_assets(preview, tx=tx) == [(NATIVE, 3)]


# --- against a real simulation ---------------------------------------------------------------
def test_evaluate_real_previews_on_anvil(devnet_home: Any, chain: Any) -> None:
    from mm_agent.local.config import Config
    from mm_agent.security.pipeline import Engine

    engine = Engine(devnet_home, Config(devnet_home, env={}))
    musd = chain.token("mUSD")["address"]
    policy = doc(allowlist=(musd,))
    prices = StaticPrices({"ETH": "2000", "mUSD": "1"})

    def fee_usd(preview: Any) -> Decimal:
        # The worst-case network fee counts as outflow too (issue 9), at $2000 per ETH.
        return Decimal(int(preview.fees["worstCaseFeeWei"])) * 2000 / Decimal(10**18)

    tx, intent = engine.build_transfer(WALLET, BOB, "250", "mUSD", 31337)
    preview = engine.preview_transaction(31337, WALLET, tx, intent=intent)
    usd = price_outflow(prices, preview)
    assert usd == Decimal(250) + fee_usd(preview)
    ok = evaluate(policy, "guard", preview, outflow_usd=usd, window_used_usd=Decimal(0), tx=tx)
    assert ok.decision == "allow", ok.violations
    full = evaluate(policy, "guard", preview, outflow_usd=usd, window_used_usd=Decimal(800),
                    tx=tx)
    assert rules(full) == ["outflow_limit"]

    tx, intent = engine.build_transfer(WALLET, CAROL, "0.5", "ETH", 31337)
    preview = engine.preview_transaction(31337, WALLET, tx, intent=intent)
    usd = price_outflow(prices, preview)
    assert usd == Decimal(1000) + fee_usd(preview)
    result = evaluate(policy, "guard", preview, outflow_usd=usd, window_used_usd=Decimal(1),
                      tx=tx)
    assert sorted(rules(result)) == ["outflow_limit", "token_recipient"]
