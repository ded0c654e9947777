"""On-chain groundwork for predict markets and swaps (issue 15), no CLI yet.

- :mod:`.orders` — Polymarket CTF Exchange V2 orders: amounts from price/size, EIP-712 typed
  data (for the wallet's ``sign_typed_data``, so signing runs the security pipeline), order
  hash; the CLOB's ``ClobAuth`` (L1) typed data and HMAC (L2) headers.
- :mod:`.ctf` — Gnosis Conditional Tokens ids computed off-chain (condition, collection,
  position) and the calldata of prepareCondition / splitPosition / reportPayouts / redeem.
- :mod:`.amm` — Uniswap V2 quotes: amount out with the 0.3 % fee, price impact, minimum out.
- :mod:`.devnet_deploy` — deploys Conditional Tokens, :file:`DevnetCtfExchange`, WETH9 and
  Uniswap V2 with seeded pools on an anvil devnet, and creates YES/NO markets.

Layer: just above ``mm_agent.security`` (imports errors, local, evm, security only).
"""
