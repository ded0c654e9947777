"""Rules for a new BYOK vault password (``mm init``, ``mm wallet password set|change``)."""

from __future__ import annotations

from mm_agent.errors import EmptyPassword, PasswordTooShort

__all__ = ["MIN_PASSWORD_LENGTH", "check_new_password"]

MIN_PASSWORD_LENGTH = 8


def check_new_password(password: str) -> str:
    """The password if it is acceptable; never echoes it in the error."""
    if not password.strip():
        raise EmptyPassword("The new password is empty.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(
            f"The new password is shorter than {MIN_PASSWORD_LENGTH} characters.")
    return password
