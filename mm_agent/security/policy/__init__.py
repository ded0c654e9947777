"""Wallet policies (contract §6): the document, its evaluation,
and USD prices."""
