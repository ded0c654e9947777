"""Bring-your-own-key wallets: mnemonic handling and the encrypted-at-rest vault."""
