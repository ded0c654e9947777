"""The Wallet API: the BYOK wallet (``byok/``), the server-wallet client
(``remote/``), balances."""
