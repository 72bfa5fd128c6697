"""The packaged Alembic migrations build exactly the tables the models describe."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import voxflow.db.models  # noqa: F401  registers the tables
from voxflow.db import make_engine, migrate
from voxflow.db.migrate import MIGRATIONS_DIR, alembic_config, current_revision
from voxflow.errors import ServiceUnavailable

TABLES = {"project", "chapter", "segment", "conversion"}


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrations_are_packaged():
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0002_include_front_matter.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0003_book_metadata.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0004_read_along.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0005_acx_credits.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0006_lexicon.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0007_segment_approval.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0009_speech_qa.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0010_shared_lexicon_unique.py").is_file()
    assert head() == "0010"


def test_migration_matches_models(database_url):
    migrate(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
            tables = set(sa.inspect(connection).get_table_names())
            assert tables >= TABLES | {"alembic_version"}
            indexes = {
                index["name"]: (index["column_names"], bool(index["unique"]))
                for table in TABLES
                for index in sa.inspect(connection).get_indexes(table)
            }
    finally:
        engine.dispose()
    assert indexes["ix_segment_chapter_index"] == (["chapter_id", "index"], True)
    assert indexes["ix_segment_chapter_status"] == (["chapter_id", "status"], False)
    assert indexes["ix_segment_text_hash"] == (["text_hash"], False)
    assert indexes["ix_chapter_project_index"] == (["project_id", "index"], True)


def test_upgrade_is_idempotent_and_reversible(database_url):
    assert current_revision(database_url) is None
    migrate(database_url)
    migrate(database_url)
    assert current_revision(database_url) == head()
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        with engine.connect() as connection:
            assert TABLES.isdisjoint(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    migrate(database_url)
    assert current_revision(database_url) == head()


def test_sqlite_file_and_folder_created(tmp_path):
    url = f"sqlite:///{tmp_path / 'nested' / 'deeper' / 'voxflow.db'}"
    migrate(url)
    assert (tmp_path / "nested" / "deeper" / "voxflow.db").is_file()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        engine.dispose()


def test_unreachable_database_is_a_clear_error(free_port_url):
    with pytest.raises(ServiceUnavailable, match="is not reachable"):
        migrate(free_port_url)


@pytest.fixture
def free_port_url() -> str:
    from tests.plugins.services import free_port

    return f"postgresql+psycopg://nobody:secret@127.0.0.1:{free_port()}/nothing"


def test_password_not_in_error(free_port_url):
    with pytest.raises(ServiceUnavailable) as raised:
        migrate(free_port_url)
    assert "secret" not in str(raised.value)


def test_a_shared_lexicon_term_is_unique_like_a_projects(database_url):
    """The shared lexicon's NULL scope is covered by its own partial index."""
    migrate(database_url)
    engine = make_engine(database_url)
    entry = {"term_key": "holmes", "term": "Holmes", "replacement": "Homes", "kind": "respell"}
    insert = sa.text(
        "INSERT INTO lexiconentry (project_id, term_key, term, replacement, kind, "
        "case_sensitive, created_at) VALUES (NULL, :term_key, :term, :replacement, :kind, "
        ":case_sensitive, CURRENT_TIMESTAMP)"
    )
    try:
        with engine.begin() as connection:
            connection.execute(insert, {**entry, "case_sensitive": False})
            connection.execute(insert, {**entry, "case_sensitive": True})  # another case rule
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(insert, {**entry, "case_sensitive": False})
    finally:
        engine.dispose()


def test_the_upgrade_keeps_the_newest_of_duplicate_shared_terms(database_url):
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0009")
            for replacement in ("Homes", "Holmz"):
                connection.execute(
                    sa.text(
                        "INSERT INTO lexiconentry (project_id, term_key, term, replacement, "
                        "kind, case_sensitive, created_at) VALUES (NULL, 'holmes', 'Holmes', "
                        ":replacement, 'respell', false, CURRENT_TIMESTAMP)"
                    ),
                    {"replacement": replacement},
                )
        migrate(database_url)
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT replacement FROM lexiconentry")).all()
    finally:
        engine.dispose()
    assert [r[0] for r in rows] == ["Holmz"]
