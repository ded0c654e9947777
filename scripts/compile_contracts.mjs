#!/usr/bin/env node
// Compile every mm_agent/contracts/*.sol with the pinned npm `solc` (0.8.28, bundled compiler:
// no download at run time) and write one artifact per contract: mm_agent/contracts/<Name>.json.
//
// Usage: node scripts/compile_contracts.mjs [DIR]   (scripts/compile_contracts.sh installs solc
// first). DIR defaults to mm_agent/contracts; test-only contracts live in e.g.
// tests/security/contracts and are compiled the same way into that folder.
// SOLC_MODULE may point at another solc package folder; the default is .tools/solc.

import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SOLC_VERSION = "0.8.28";
const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const contractsDir = process.argv[2] ? resolve(process.argv[2]) : join(repo, "mm_agent", "contracts");
const solcDir = process.env.SOLC_MODULE ?? join(repo, ".tools", "solc", "node_modules", "solc");

const require = createRequire(import.meta.url);
const solc = require(solcDir);

// Refuse any other compiler: artifacts must be reproducible from the pinned version.
const version = solc.version();
if (!version.startsWith(`${SOLC_VERSION}+`)) {
  console.error(`expected solc ${SOLC_VERSION}, found ${version} at ${solcDir}`);
  process.exit(1);
}

const files = readdirSync(contractsDir).filter((f) => f.endsWith(".sol")).sort();
if (files.length === 0) {
  console.error(`no .sol files in ${contractsDir}`);
  process.exit(1);
}

const sources = {};
const hashes = {};
for (const file of files) {
  const content = readFileSync(join(contractsDir, file), "utf8");
  sources[file] = { content };
  hashes[file] = createHash("sha256").update(readFileSync(join(contractsDir, file))).digest("hex");
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const problems = output.errors ?? [];
for (const p of problems) console.error(p.formattedMessage ?? p.message);
if (problems.some((p) => p.severity === "error")) process.exit(1);

for (const file of files) {
  // One artifact per file: the contract named like the file. Helper interfaces declared next
  // to it have no bytecode and need no artifact.
  const name = basename(file, ".sol");
  const compiled = output.contracts?.[file]?.[name];
  if (!compiled) {
    console.error(`${file} must define a contract named ${name}`);
    process.exit(1);
  }
  const artifact = {
    contractName: name,
    abi: compiled.abi,
    bytecode: `0x${compiled.evm.bytecode.object}`,
    deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
    compiler: `solc ${SOLC_VERSION}`,
    sourceHash: hashes[file],
  };
  writeFileSync(join(contractsDir, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
  console.log(`${name}.json  (${(compiled.evm.deployedBytecode.object.length / 2) | 0} bytes)`);
}
