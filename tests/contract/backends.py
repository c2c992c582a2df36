"""The storage backends the contract suite runs against.

Each factory returns an *unopened* `Storage` whose data lives at a place derived from
`tmp_path`; calling it twice with the same `tmp_path` must give two instances over the same
data (the restart test relies on it). A factory may `pytest.skip` when its database is absent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from threadloom.storage.base import Storage

BackendFactory = Callable[[Path], Awaitable[Storage]]


async def sqlite_backend(tmp_path: Path) -> Storage:
    from threadloom.storage.sqlite import SqliteStorage

    return SqliteStorage(tmp_path / "threadloom.db")


async def postgres_backend(tmp_path: Path) -> Storage:
    """A schema of its own per test (named after `tmp_path`), dropped when the session ends."""
    from tests.support.pg import require_postgres, schema_for
    from threadloom.storage.postgres import PostgresStorage

    return PostgresStorage(require_postgres(), schema=schema_for(str(tmp_path)), pool_max=10)


BACKENDS: dict[str, BackendFactory] = {
    "sqlite": sqlite_backend,
    "postgres": postgres_backend,
}
