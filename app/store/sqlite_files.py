"""The SQLite file of the audit store: private modes, connection settings (WAL, ``synchronous=FULL``), the engine."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_PAGE_SIZE = 16384
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def private_data_dir(data_dir: str | Path) -> Path:
    """The data directory (audit database, metrics files), created or narrowed to mode 0700."""
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if path.stat().st_mode & 0o777 != PRIVATE_DIR_MODE:
        path.chmod(PRIVATE_DIR_MODE)
    return path


def private_sqlite_files(database: str) -> None:
    """The database file exists with mode 0600 before SQLite opens it, so its ``-wal`` and ``-shm`` (which
    SQLite creates with the database file's mode) are 0600 too; files left by an older release are fixed."""
    path = Path(database)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=PRIVATE_DIR_MODE)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE_MODE))
    for suffix in SQLITE_SIDE_FILES:
        side = Path(f"{database}{suffix}")
        if side.exists() and side.stat().st_mode & 0o777 != PRIVATE_FILE_MODE:
            side.chmod(PRIVATE_FILE_MODE)


def configure_sqlite(dbapi_connection: Any) -> None:
    """Every connection to the store's SQLite file: WAL, ``synchronous=FULL``, a 30 s busy timeout."""
    dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN (real transactions, DDL too)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    # Only takes effect on a new database (before WAL): a consultation row (~2.5 KB) fits a 4 KB page
    # once, wasting the rest; 16 KB pages hold six (see docs/store-upgrades.md).
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _switch_to_wal(cursor: Any, *, wait_seconds: float = 30.0) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another process holds the lock: SQLite answers this pragma
    "database is locked" at once, without its busy handler, when workers open a new database together."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def sqlite_file(engine: Engine) -> str | None:
    """The database file of a SQLite engine (``None``: another database, or in memory)."""
    database = engine.url.database
    if (
        engine.dialect.name != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
    ):
        return None
    return database


def sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        private_sqlite_files(parsed.database)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        configure_sqlite(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers that read first (schema upgrades) take the write lock up front: no upgrade deadlock.
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
