"""Database URLs: which backend, the psycopg 3 spelling, and a password-free form for logs."""

from __future__ import annotations

__all__ = ["is_sqlite_url", "normalize_url", "redact_url"]


def is_sqlite_url(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] == "sqlite"


def normalize_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` (what hosting providers print) use psycopg 3."""
    from mm_agent.errors import InvalidConfigValue

    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidConfigValue(
            "The database URL must look like postgresql+psycopg://user:pass@host/db or "
            "sqlite:///path/to/mm.sqlite.")
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if scheme.split("+", 1)[0] not in ("postgresql", "sqlite"):
        raise InvalidConfigValue(
            f"Unsupported database {scheme!r}: use postgresql+psycopg://… or sqlite:///….")
    return url


def redact_url(url: str) -> str:
    """The URL without its password (for logs and messages)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show its scheme only
        return url.split("://", 1)[0] + "://…"
