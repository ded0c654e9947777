"""The server wallet: the wallet-service HTTP client (``client.py``) and ``RemoteWallet`` /
``AsyncRemoteWallet`` over it (``wallet.py``, ``async_wallet.py``; shared core ``core.py``)."""
