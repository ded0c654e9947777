"""Alembic environment. ``migrate.py`` hands in an open connection (already in a transaction
and holding the migration lock); the ``alembic`` command line gets one from ``-x url=…`` or
``MM_DATABASE_URL``."""

from __future__ import annotations

from alembic import context

from mm_agent.errors import UsageError
from mm_agent.local import env as env_vars
from mm_agent.server.db.store import metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later revisions use op.batch_alter_table.
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # `alembic -c mm_agent/server/db/alembic.ini -x url=… revision|upgrade|history`
    from sqlalchemy import create_engine

    url = (context.get_x_argument(as_dictionary=True).get("url")
           or env_vars.get(env_vars.DATABASE_URL))
    if not url:
        raise UsageError(f"Give -x url=… or set {env_vars.DATABASE_URL}.")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
