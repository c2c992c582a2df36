"""The cluster PostgreSQL backend — see `storage.postgres.storage.PostgresStorage`.

Select it with a `postgresql://` (or `postgres://`) `database_url`; `migrate(url, schema=...)`
creates or upgrades the schema (also run by `PostgresStorage.open()`).
"""

from threadloom.storage.postgres.migrate import migrate, migrate_blocking
from threadloom.storage.postgres.storage import PostgresStorage

__all__ = ["PostgresStorage", "migrate", "migrate_blocking"]
