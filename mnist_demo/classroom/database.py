"""The classroom's database: which one, its engine, and its tables brought up to date.

SQLite by default: one file, ``classes.db`` under ``MNIST_DEMO_CLASS_DIR``, in WAL mode with
``synchronous=FULL``, so a commit is on disk (the WAL fsynced) before "saved" is answered and a
``kill -9`` loses nothing (https://www.sqlite.org/pragma.html#pragma_synchronous). Every write
transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock up front, so a cap's count
and the insert it guards are one step, and two writers queue on ``busy_timeout`` rather than
failing with "database is locked" when a read lock cannot be upgraded.

PostgreSQL when ``MNIST_DEMO_DATABASE_URL`` names one (``postgresql+psycopg://...``): several
replicas share it. Writers that check a cap lock the class's row (``SELECT ... FOR UPDATE``) or,
for the host-wide class count, a transaction-scoped advisory lock.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from mnist_demo.settings import CLASS_DIR, DATABASE_URL

DATABASE_FILE = "classes.db"
BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock's key for "creating a class" (any fixed 64-bit number will do).
CREATE_LOCK = 21_0001
_migrate_lock = threading.Lock()


def database_url(url: str | None = None) -> str:
    """``url``, else ``MNIST_DEMO_DATABASE_URL``, else the SQLite file in the class folder."""
    chosen = url or DATABASE_URL.read()
    if chosen:
        return str(chosen)
    folder = Path(str(CLASS_DIR.read())).expanduser().resolve()
    return f"sqlite:///{folder / DATABASE_FILE}"


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for a SQLite file, its folder is made here, on first use."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pool_pre_ping: a replica outlives a PostgreSQL restart without serving one error.
        return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=16)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection, _record) -> None:
    # The driver's own transaction handling off: _sqlite_begin says BEGIN (SQLAlchemy's recipe,
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("writes", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: committed when the block ends, rolled back if it raises."""
    with engine.connect() as connection:
        connection = connection.execution_options(writes=True)
        with connection.begin():
            yield connection


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection, connection.begin():
        yield connection


def lock_for_create(connection: Connection) -> None:
    """Serialise class creation across replicas (SQLite's BEGIN IMMEDIATE already does)."""
    if not is_sqlite(connection):
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREATE_LOCK})


def migrations_folder() -> str:
    return str(resources.files("mnist_demo.classroom") / "migrations")


def upgrade(engine: Engine) -> None:
    """Bring the tables to alembic's head: made on an empty database, nothing on a current one.
    Two replicas starting at once take turns (the write lock, or an advisory lock)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", migrations_folder())
    with _migrate_lock, writing(engine) as connection:
        lock_for_create(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
