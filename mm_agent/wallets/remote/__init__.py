"""The server wallet: the wallet-service HTTP client and the Wallet over it."""
