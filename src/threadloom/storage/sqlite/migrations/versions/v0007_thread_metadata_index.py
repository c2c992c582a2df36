"""An inverted index of threads' top-level metadata (`thread_metadata_index`), kept by triggers,
so a metadata search reads the matching threads instead of parsing every thread's JSON.

`POST /threads/search` with `metadata={"user": 7}` checked `json_extract` on every live thread
(two JSON parses a row: ~0.4 ms at 1,000 threads, linear in the table). Each thread's scalar
top-level entries are one row `(key, atom, created, thread)` here (`atom` as SQLite's `json_each`
gives it: booleans become 1 / 0; `created` the thread's `created_at`, which never changes).
A search in the default order (newest first) walks the entries of its rarest wanted scalar in
`created` order and stops when the page is full; other orders narrow to the candidates or scan,
whichever reads less (`storage/sqlite/sqlfilter.py`). The exact containment check runs on
what the index gives, so the index only ever has to hold a superset. The column is `thread`, not `thread_id`, so a search's predicates on `threads` can be
joined to it unqualified. Nested values,
arrays and nulls are not indexed: a search by them alone scans as before.

PostgreSQL's twin is the GIN index on `threads.metadata` (jsonb_path_ops).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ENTRIES = (
    "SELECT key, atom, {created}, {thread} FROM json_each({metadata}) "
    "WHERE type NOT IN ('null', 'object', 'array')"
)

STATEMENTS = [
    """
    CREATE TABLE thread_metadata_index (
        key TEXT NOT NULL,
        atom NOT NULL,
        created INTEGER NOT NULL,
        thread TEXT NOT NULL
    )
    """,
    "CREATE INDEX thread_metadata_index_entry "
    "ON thread_metadata_index (key, atom, created, thread)",
    "CREATE INDEX thread_metadata_index_thread ON thread_metadata_index (thread)",
    f"""
    CREATE TRIGGER threads_metadata_indexed_insert AFTER INSERT ON threads
    BEGIN
        INSERT INTO thread_metadata_index (key, atom, created, thread)
        {_ENTRIES.format(created="new.created_at", thread="new.thread_id", metadata="new.metadata")};
    END
    """,
    f"""
    CREATE TRIGGER threads_metadata_indexed_update AFTER UPDATE OF metadata ON threads
    WHEN old.metadata IS NOT new.metadata
    BEGIN
        DELETE FROM thread_metadata_index WHERE thread = old.thread_id;
        INSERT INTO thread_metadata_index (key, atom, created, thread)
        {_ENTRIES.format(created="new.created_at", thread="new.thread_id", metadata="new.metadata")};
    END
    """,
    """
    CREATE TRIGGER threads_metadata_indexed_delete AFTER DELETE ON threads
    BEGIN
        DELETE FROM thread_metadata_index WHERE thread = old.thread_id;
    END
    """,
    "INSERT INTO thread_metadata_index (key, atom, created, thread) "
    "SELECT e.key, e.atom, t.created_at, t.thread_id FROM threads t, json_each(t.metadata) e "
    "WHERE e.type NOT IN ('null', 'object', 'array')",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for name in (
        "threads_metadata_indexed_insert",
        "threads_metadata_indexed_update",
        "threads_metadata_indexed_delete",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS thread_metadata_index")
