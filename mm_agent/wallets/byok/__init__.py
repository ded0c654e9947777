"""Bring-your-own-key wallets: mnemonic handling, the encrypted-at-rest vault, the keyring, and
``ByokWallet`` / ``AsyncByokWallet`` (``wallet.py``, ``async_wallet.py``)."""
