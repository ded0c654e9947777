"""The service fixtures of tests/server, shared by the toolkit tests (SQLite backend)."""

from server.conftest import (  # noqa: F401  (fixtures)
    database_urls,
    db_backend,
    pg_cluster,
    service,
    service_factory,
)
