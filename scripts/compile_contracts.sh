#!/usr/bin/env bash
# Install the pinned solc (npm package, compiler bundled) into .tools/solc if missing, then
# compile mm_agent/contracts/*.sol into their JSON artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."
SOLC_VERSION=0.8.28
pkg=.tools/solc/node_modules/solc/package.json
if [ ! -f "$pkg" ] || ! grep -q "\"version\": \"$SOLC_VERSION\"" "$pkg"; then
  npm install --prefix .tools/solc --no-audit --no-fund "solc@$SOLC_VERSION"
fi
exec node scripts/compile_contracts.mjs "$@"
