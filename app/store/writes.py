"""The audit store's per-request writes as operations a group commit runs together in one transaction.

Two writers run a batch: :class:`SqliteWriter` on a plain ``sqlite3`` connection (prepared statements,
``executemany``), :class:`EngineWriter` through SQLAlchemy Core (PostgreSQL, in-memory SQLite). If the
batch's transaction fails, each operation is retried in its own transaction, so one caller's failure
never becomes another's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from app.store import tables as s
from app.store.raw_sqlite import RawSqlite


@dataclass(frozen=True)
class InsertRows:
    """Rows (dicts with the same keys) inserted into ``table``; the outcome is ``None``."""

    table: Table
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class ClaimJti:
    """Record ``(iss, jti)`` unless present; the outcome is ``True`` when this claim inserted it.
    ``purge_before``: first delete entries whose ``exp`` is before it (keeps the table short)."""

    iss: str
    jti: str
    exp: int
    purge_before: int | None = None


Op = InsertRows | ClaimJti


def _one_by_one(commit: Callable[[Sequence[Op]], list[Any]], ops: Sequence[Op], exc: Exception) -> list[Any]:
    if len(ops) == 1:
        return [exc]
    return [commit([op])[0] for op in ops]


class SqliteWriter:
    def __init__(self, raw: RawSqlite, dialect: Dialect):
        self._raw = raw
        self._dialect = dialect
        self._inserts: dict[tuple[str, tuple[str, ...]], tuple[str, list[Any]]] = {}

    def _insert(self, table: Table, keys: tuple[str, ...]) -> tuple[str, list[Any]]:
        """``INSERT`` with qmark parameters and each column's SQLAlchemy bind processor (same stored values)."""
        found = self._inserts.get((table.name, keys))
        if found is None:
            columns = [table.c[key] for key in keys]
            sql = (
                f"INSERT INTO {table.name} ({', '.join(c.name for c in columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})"
            )
            processors = [c.type.dialect_impl(self._dialect).bind_processor(self._dialect) for c in columns]
            found = self._inserts[(table.name, keys)] = (sql, processors)
        return found

    def _apply(self, conn: sqlite3.Connection, op: Op) -> Any:
        if isinstance(op, InsertRows):
            keys = tuple(op.rows[0])
            sql, processors = self._insert(op.table, keys)
            params = [
                tuple(
                    row[key] if process is None or row[key] is None else process(row[key])
                    for key, process in zip(keys, processors, strict=True)
                )
                for row in op.rows
            ]
            conn.executemany(sql, params)
            return None
        if op.purge_before is not None:
            conn.execute("DELETE FROM jti_seen WHERE exp < ?", (op.purge_before,))
        cursor = conn.execute(
            "INSERT INTO jti_seen (iss, jti, exp) VALUES (?, ?, ?) ON CONFLICT (iss, jti) DO NOTHING",
            (op.iss, op.jti, op.exp),
        )
        return cursor.rowcount == 1

    def commit(self, ops: Sequence[Op]) -> list[Any]:
        conn = self._raw.writer()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                outcomes = [self._apply(conn, op) for op in ops]
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:
            return _one_by_one(self.commit, ops, exc)
        return outcomes


class EngineWriter:
    def __init__(self, engine: Engine):
        self._engine = engine

    def _claim(self, conn: Connection, op: ClaimJti) -> bool:
        values = {"iss": op.iss, "jti": op.jti, "exp": op.exp}
        name = conn.dialect.name
        if name in ("postgresql", "sqlite"):
            dialect_insert = postgresql.insert if name == "postgresql" else sqlite_dialect.insert
            stmt = (
                dialect_insert(s.jti_seen)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["iss", "jti"])
                .returning(s.jti_seen.c.jti)  # rowcount is not reported here (psycopg: -1)
            )
            return conn.execute(stmt).first() is not None
        try:
            with conn.begin_nested():
                conn.execute(insert(s.jti_seen).values(**values))
        except IntegrityError:
            return False
        return True

    def _apply(self, conn: Connection, op: Op) -> Any:
        if isinstance(op, InsertRows):
            conn.execute(insert(op.table), op.rows)
            return None
        if op.purge_before is not None:
            conn.execute(delete(s.jti_seen).where(s.jti_seen.c.exp < op.purge_before))
        return self._claim(conn, op)

    def commit(self, ops: Sequence[Op]) -> list[Any]:
        try:
            with self._engine.begin() as conn:
                return [self._apply(conn, op) for op in ops]
        except Exception as exc:
            return _one_by_one(self.commit, ops, exc)
