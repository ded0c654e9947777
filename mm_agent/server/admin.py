"""Operator tools that work on the service's data directory directly (no HTTP, no sign-in).

``create_login`` is how a headless agent host gets CLI tokens without a browser: the operator
runs ``mm server admin create-login`` where the data dir (and master key) live.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from mm_agent.errors import ValidationError

from .db.store import Store, accounts, now
from .services.auth import issue_tokens
from .services.keys import MasterKey, wrap_totp_secret
from .services.signin import account_owner, new_account_seed, normalize_email, provisioning_uri
from .settings import ServerSettings

__all__ = ["CHANNELS", "create_login"]

CHANNELS = ("email", "authenticator")


def create_login(data_dir: Path, email: str, channel: str = "email",
                 settings: ServerSettings | None = None) -> dict[str, Any]:
    """Create or update the account and issue an agent-scope token pair.

    ``{email, channel, token: "<access>:<refresh>", provisioningUri?}``; for the authenticator
    channel a new TOTP seed replaces any old one and its provisioning URI is returned once.
    """
    address = normalize_email(email)
    if channel not in CHANNELS:
        raise ValidationError("--channel must be `email` or `authenticator`.")
    data_dir = Path(data_dir)
    settings = settings or ServerSettings(data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = (Store(settings.database_url) if settings.database_url
             else Store.for_data_dir(data_dir))
    try:
        store.migrate()
        master = MasterKey.load(data_dir)
        seed = new_account_seed() if channel == "authenticator" else None
        with store.tx() as conn:
            account_id = conn.execute(select(accounts.c.id)
                                      .where(accounts.c.email == address)).scalar()
            if account_id is None:
                account_id = uuid.uuid4().hex
                conn.execute(insert(accounts).values(id=account_id, email=address,
                                                     channel=channel, created_at=now()))
            values: dict[str, Any] = {"channel": channel}
            if seed is not None:
                values["totp_secret_enc"] = wrap_totp_secret(master, account_owner(account_id),
                                                             seed)
            # Switching to email keeps any seed: a later switch back needs no new pairing.
            conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))
            pair = issue_tokens(store, settings, account_id, "agent", conn=conn)
    finally:
        store.dispose()
    out: dict[str, Any] = {"email": address, "channel": channel,
                           "token": f"{pair['accessToken']}:{pair['refreshToken']}"}
    if seed is not None:
        out["provisioningUri"] = provisioning_uri(seed, address)
    return out
