"""Storage: one interface (`base.Storage`), an embedded SQLite and a PostgreSQL backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from threadloom.settings import Settings
    from threadloom.storage.base import Storage


def create_storage(
    settings: Settings,
    *,
    store_index: dict[str, Any] | None = None,
    store_ttl: dict[str, Any] | None = None,
) -> Storage:
    """The backend the settings ask for: PostgreSQL when `database_url` is set, else SQLite.

    `store_index` / `store_ttl` are langgraph.json's `store.index` / `store.ttl`. Backends are
    imported lazily so an embedded deployment never loads psycopg.
    """
    if settings.database_url:
        from threadloom.storage.postgres import (  # type: ignore[attr-defined, unused-ignore]
            PostgresStorage,
        )

        return PostgresStorage.from_settings(settings, store_index=store_index, store_ttl=store_ttl)
    from threadloom.storage.sqlite import SqliteStorage

    return SqliteStorage.from_settings(settings, store_index=store_index, store_ttl=store_ttl)


async def migrate_storage(settings: Settings) -> None:
    """Create or upgrade the schema (`threadloom migrate`): open the backend, then close it."""
    storage = create_storage(settings)
    await storage.open()
    await storage.close()


__all__ = ["create_storage", "migrate_storage"]
