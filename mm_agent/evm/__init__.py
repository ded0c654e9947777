"""EVM primitives: addresses, amounts, chains, tokens, fees, JSON-RPC, nonces,
payloads, signing, and the ABI / signature tables."""
