"""Operation handlers and their args models, grouped by concern. Declared in ``registry.py``."""
