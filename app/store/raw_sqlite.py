"""Plain ``sqlite3`` connections to the audit store's database file, for the per-request hot paths.

SQLAlchemy costs ~0.5 ms of CPU per statement on the request path (pool checkout, execution context,
result wrapping); the same prepared statement on a plain connection costs microseconds. A store on a
SQLite file keeps one reading connection per thread and one writing connection (used by the group-commit
leader only), opened with the engine's own settings (WAL, ``synchronous=FULL``, busy timeout). Neither
crosses a fork: a child opens its own.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable

from sqlalchemy import Engine

Configure = Callable[[sqlite3.Connection], None]


class _Held:
    """Owns one connection; weakly tracked so that close() reaches it and a dead thread's is freed."""

    __slots__ = ("conn", "__weakref__")

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn


class RawSqlite:
    def __init__(self, database: str, configure: Configure):
        self.database = database
        self._configure = configure
        self._fresh()

    def _fresh(self) -> None:
        # After a fork the parent's connections are dropped unclosed (as ``engine.dispose(close=False)``).
        self._pid = os.getpid()
        self._local = threading.local()
        self._held: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._writer: _Held | None = None

    def _open(self) -> _Held:
        conn = sqlite3.connect(self.database, timeout=30, isolation_level=None, check_same_thread=False)
        self._configure(conn)
        held = _Held(conn)
        with self._lock:
            self._held.add(held)
        return held

    def reader(self) -> sqlite3.Connection:
        """This thread's connection (autocommit: every query sees the latest committed rows)."""
        if self._pid != os.getpid():
            self._fresh()
        held: _Held | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = self._open()
        return held.conn

    def writer(self) -> sqlite3.Connection:
        """The writing connection; one caller at a time (the group-commit leader)."""
        if self._pid != os.getpid():
            self._fresh()
        if self._writer is None:
            self._writer = self._open()
        return self._writer.conn

    def close(self) -> None:
        with self._lock:
            held, self._held = list(self._held), weakref.WeakSet()
        self._local = threading.local()
        self._writer = None
        for one in held:
            one.conn.close()


_BY_ENGINE: weakref.WeakKeyDictionary[Engine, RawSqlite] = weakref.WeakKeyDictionary()


def register(engine: Engine, raw: RawSqlite) -> None:
    """Let other stores sharing ``engine`` (the question store) use its plain connections."""
    _BY_ENGINE[engine] = raw


def for_engine(engine: Engine) -> RawSqlite | None:
    return _BY_ENGINE.get(engine)
