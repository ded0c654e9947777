"""The Wallet API: one interface (``base.py``: ``WalletBase`` / ``AsyncWalletBase``, public as
``mm_agent.Wallet`` / ``AsyncWallet``), the BYOK implementation (``byok/``), the server-wallet
implementation and its HTTP client (``remote/``), the mode → implementation table
(``factory.py``), balances and transaction reads."""
