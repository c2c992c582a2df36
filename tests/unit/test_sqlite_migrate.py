"""A database already at the newest revision is opened without alembic: a restart of
`threadloom dev` does not load alembic, SQLAlchemy and mako (~33 MB it would keep)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from threadloom.storage.sqlite.migrate import MIGRATIONS_DIR, at_head, head_revision, run_migrations


def test_the_head_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_a_migrated_file_opens_without_alembic(tmp_path: Path) -> None:
    db = tmp_path / "threadloom.db"
    assert not at_head(db) and not db.exists()  # asking never creates the file
    run_migrations(db)
    assert at_head(db)
    probe = (
        "import sys; from pathlib import Path;"
        "from threadloom.storage.sqlite.migrate import run_migrations;"
        f"run_migrations(Path({str(db)!r}));"
        "print(sorted(m for m in ('alembic', 'sqlalchemy', 'mako') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_an_older_file_is_still_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "threadloom.db"
    run_migrations(db, revision="0006")
    assert not at_head(db)
    run_migrations(db)
    assert at_head(db)
