#!/usr/bin/env bash
# Regenerate the vendored, already-compiled contracts, taken from the bytecode their npm
# packages ship (`npm pack`, as the Makefile does for anvil):
#   mm_agent/contracts/vendor/*.json — what the devnet markets deploy (Gnosis Conditional
#     Tokens, Uniswap V2 factory/pair/router, WETH9);
#   tests/markets/contracts/uniswap_v3/*.json — test-only: Uniswap V3 (factory, QuoterV2,
#     SwapRouter02, NonfungiblePositionManager), which tests/markets/test_swap_v3.py deploys on
#     anvil to run the V3 swap path against Uniswap's own bytecode.
# Only ABI + creation bytecode are kept; each artifact records its package, version, the file
# it came from and the bytecode's sha256 (pinned in tests/markets/test_vendor_artifacts.py).
# An artifact with an unlinked library placeholder is refused. Bump a version here and re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
CTF_PKG=@gnosis.pm/conditional-tokens-contracts@1.0.3
V2_CORE_PKG=@uniswap/v2-core@1.0.1
V2_PERIPHERY_PKG=@uniswap/v2-periphery@1.1.0-beta.0
V3_CORE_PKG=@uniswap/v3-core@1.0.1
V3_PERIPHERY_PKG=@uniswap/v3-periphery@1.4.4
SWAP_ROUTER_PKG=@uniswap/swap-router-contracts@1.3.1
vendor=mm_agent/contracts/vendor
v3=tests/markets/contracts/uniswap_v3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pkgs=("$CTF_PKG" "$V2_CORE_PKG" "$V2_PERIPHERY_PKG" "$V3_CORE_PKG" "$V3_PERIPHERY_PKG"
      "$SWAP_ROUTER_PKG")
for pkg in "${pkgs[@]}"; do
  dir="$tmp/$(echo "$pkg" | tr '/@' '__')"
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "$pkg" >/dev/null && tar -xzf ./*.tgz)
done
mkdir -p "$vendor" "$v3"
node - "$tmp" "$vendor" "$v3" "${pkgs[@]}" <<'JS'
const { readFileSync, writeFileSync } = require("node:fs");
const { createHash } = require("node:crypto");
const { join } = require("node:path");
const [tmp, vendor, v3, ctf, core, periphery, v3core, v3periphery, swapRouter] =
  process.argv.slice(2);
const dirOf = (pkg) => join(tmp, pkg.replace(/[/@]/g, "_"), "package");
const split = (pkg) => { const i = pkg.lastIndexOf("@"); return [pkg.slice(0, i), pkg.slice(i + 1)]; };
const art = (sol, name) => `artifacts/contracts/${sol}/${name}.json`;
const wanted = [
  [vendor, "ConditionalTokens", ctf, "build/contracts/ConditionalTokens.json"],
  [vendor, "UniswapV2Factory", core, "build/UniswapV2Factory.json"],
  [vendor, "UniswapV2Pair", core, "build/UniswapV2Pair.json"],
  [vendor, "UniswapV2Router02", periphery, "build/UniswapV2Router02.json"],
  [vendor, "WETH9", periphery, "build/WETH9.json"],
  // QuoterV2 from v3-periphery (where the deployed QuoterV2 comes from), SwapRouter02 from
  // swap-router-contracts; both compute pool addresses from the v3-core pool's init code hash.
  [v3, "UniswapV3Factory", v3core, art("UniswapV3Factory.sol", "UniswapV3Factory")],
  [v3, "QuoterV2", v3periphery, art("lens/QuoterV2.sol", "QuoterV2")],
  [v3, "NonfungiblePositionManager", v3periphery,
   art("NonfungiblePositionManager.sol", "NonfungiblePositionManager")],
  [v3, "SwapRouter02", swapRouter, art("SwapRouter02.sol", "SwapRouter02")],
];
for (const [out, name, pkg, file] of wanted) {
  const raw = JSON.parse(readFileSync(join(dirOf(pkg), file), "utf8"));
  let bytecode = typeof raw.bytecode === "string" ? raw.bytecode : raw.evm.bytecode.object;
  if (!bytecode.startsWith("0x")) bytecode = `0x${bytecode}`;
  if (bytecode.includes("__") || Object.keys(raw.linkReferences || {}).length)
    throw new Error(`${name}: unlinked library placeholder`);
  const [pkgName, version] = split(pkg);
  const artifact = {
    contractName: name,
    package: pkgName,
    version,
    file,
    abi: raw.abi,
    bytecode,
    bytecodeSha256: createHash("sha256").update(Buffer.from(bytecode.slice(2), "hex")).digest("hex"),
  };
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(artifact, null, 1)}\n`);
  console.log(`${out}/${name}.json  ${pkgName}@${version}  (${(bytecode.length - 2) / 2} bytes)`);
}
JS
