"""The security pipeline (contract §5): decode and intents, simulate,
scan, policy, preview and execute, submit."""
