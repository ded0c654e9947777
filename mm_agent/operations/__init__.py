"""The operation registry, what a handler sees (``context``), args fields and
validation, and the handlers (``handlers/``)."""
