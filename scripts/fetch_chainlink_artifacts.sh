#!/usr/bin/env bash
# Regenerate tests/markets/contracts/chainlink/*.json: Chainlink's own compiled contracts, for the
# price-history tests only (the product never deploys Chainlink). Taken from the bytecode the npm
# package ships (`npm pack`): @chainlink/contracts 0.1.9 is the last release whose abi/v0.6/*.json
# carry solc output (creation bytecode); later releases ship bare ABIs.
#   EACAggregatorProxy  the proxy real USD feeds sit behind (phases, access control)
#   MockV3Aggregator    Chainlink's test aggregator: updateRoundData(...) → getRoundData zeros
#                       for rounds never written
#   AggregatorFacade    the V3 face Chainlink put on legacy aggregators: getRoundData reverts
#                       "No data present" for rounds never written
#   MockV2Aggregator    Chainlink's legacy test aggregator, behind the facade
# Only ABI + creation bytecode are kept; each artifact records its package, version, the file it
# came from, the compiler and the bytecode's sha256. Bump the version and re-run to update.
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=@chainlink/contracts@0.1.9
out=tests/markets/contracts/chainlink
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null && tar -xzf ./*.tgz)
mkdir -p "$out"
node - "$tmp/package" "$out" "$PKG" <<'JS'
const { readFileSync, writeFileSync } = require("node:fs");
const { createHash } = require("node:crypto");
const { join } = require("node:path");
const [dir, out, pkg] = process.argv.slice(2);
const i = pkg.lastIndexOf("@");
const [pkgName, version] = [pkg.slice(0, i), pkg.slice(i + 1)];
const wanted = ["EACAggregatorProxy", "MockV3Aggregator", "AggregatorFacade", "MockV2Aggregator"];
for (const name of wanted) {
  const file = `abi/v0.6/${name}.json`;
  const raw = JSON.parse(readFileSync(join(dir, file), "utf8"));
  const solc = raw.compilerOutput;
  let bytecode = solc.evm.bytecode.object;
  if (!bytecode.startsWith("0x")) bytecode = `0x${bytecode}`;
  if (bytecode.length <= 2) throw new Error(`${name}: no creation bytecode in ${file}`);
  if (bytecode.includes("__")) throw new Error(`${name}: unlinked library placeholder`);
  const artifact = {
    contractName: name,
    package: pkgName,
    version,
    file,
    compiler: raw.compiler.version,
    optimizer: raw.compiler.settings.optimizer,
    abi: solc.abi,
    bytecode,
    bytecodeSha256: createHash("sha256").update(Buffer.from(bytecode.slice(2), "hex")).digest("hex"),
  };
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(artifact, null, 1)}\n`);
  console.log(`${name}.json  ${pkgName}@${version}  (${(bytecode.length - 2) / 2} bytes)`);
}
JS
