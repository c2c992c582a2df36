"""Every PostgreSQL migration can be undone and redone: `threadloom migrate` to head, then down
one step, down to nothing, and up again — what an operator rolling a release back relies on."""

from __future__ import annotations

import asyncio
import importlib

from tests.support.pg import drop_schema, random_name, require_postgres

# the module, not the `migrate` function the package re-exports under the same name
migrations = importlib.import_module("threadloom.storage.postgres.migrate")


async def _functions(url: str, schema: str) -> set[str]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s",
            (schema,),
        )
        return {row[0] for row in await cur.fetchall()}


async def test_migrations_go_down_and_up_again() -> None:
    url = require_postgres()
    schema = random_name("tlmig")
    try:
        await migrations.migrate(url, schema=schema)
        assert "threadloom_finish" in await _functions(url, schema)
        for step in ("-1", "base"):
            await asyncio.to_thread(migrations.alembic_command, url, schema, "downgrade", step)
        assert "threadloom_finish" not in await _functions(url, schema)
        await asyncio.to_thread(migrations.alembic_command, url, schema, "upgrade", "head")
        assert {"threadloom_finish", "threadloom_claim"} <= await _functions(url, schema)
    finally:
        await drop_schema(url, schema)
