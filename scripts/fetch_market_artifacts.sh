#!/usr/bin/env bash
# Regenerate mm_agent/contracts/vendor/*.json: the audited, already-compiled contracts the devnet
# markets deploy (Gnosis Conditional Tokens, Uniswap V2 factory/pair/router, WETH9), taken
# from the bytecode their npm packages ship (`npm pack`, as the Makefile does for anvil).
# Only ABI + creation bytecode are kept; each artifact records its package, version and the
# file it came from. Bump a version here and re-run to update.
set -euo pipefail
cd "$(dirname "$0")/.."
CTF_PKG=@gnosis.pm/conditional-tokens-contracts@1.0.3
V2_CORE_PKG=@uniswap/v2-core@1.0.1
V2_PERIPHERY_PKG=@uniswap/v2-periphery@1.1.0-beta.0
out=mm_agent/contracts/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for pkg in "$CTF_PKG" "$V2_CORE_PKG" "$V2_PERIPHERY_PKG"; do
  dir="$tmp/$(echo "$pkg" | tr '/@' '__')"
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "$pkg" >/dev/null && tar -xzf ./*.tgz)
done
mkdir -p "$out"
node - "$tmp" "$out" "$CTF_PKG" "$V2_CORE_PKG" "$V2_PERIPHERY_PKG" <<'JS'
const { readFileSync, writeFileSync } = require("node:fs");
const { createHash } = require("node:crypto");
const { join } = require("node:path");
const [tmp, out, ctf, core, periphery] = process.argv.slice(2);
const dirOf = (pkg) => join(tmp, pkg.replace(/[/@]/g, "_"), "package");
const split = (pkg) => { const i = pkg.lastIndexOf("@"); return [pkg.slice(0, i), pkg.slice(i + 1)]; };
const wanted = [
  ["ConditionalTokens", ctf, "build/contracts/ConditionalTokens.json"],
  ["UniswapV2Factory", core, "build/UniswapV2Factory.json"],
  ["UniswapV2Pair", core, "build/UniswapV2Pair.json"],
  ["UniswapV2Router02", periphery, "build/UniswapV2Router02.json"],
  ["WETH9", periphery, "build/WETH9.json"],
];
for (const [name, pkg, file] of wanted) {
  const raw = JSON.parse(readFileSync(join(dirOf(pkg), file), "utf8"));
  let bytecode = typeof raw.bytecode === "string" ? raw.bytecode : raw.evm.bytecode.object;
  if (!bytecode.startsWith("0x")) bytecode = `0x${bytecode}`;
  if (bytecode.includes("__")) throw new Error(`${name}: unlinked library placeholder`);
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
  console.log(`${name}.json  ${pkgName}@${version}  (${(bytecode.length - 2) / 2} bytes)`);
}
JS
