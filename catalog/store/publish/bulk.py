"""Rows loaded in bulk inside a publish's transaction: COPY on PostgreSQL, batched INSERTs by a
writer thread on SQLite (`BulkLoader`); temporary tables, and the unique index that finds a
repeated code while it is built."""

from __future__ import annotations

import queue
import sqlite3
import sys
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...findings import Finding, finding
from ...wording import duplicate_message


def postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


class BulkLoader:
    """Rows on their way into one table, loaded as they come, while the caller goes on: COPY on
    PostgreSQL (the server takes them in on its own core), batched INSERTs on SQLite run by a
    writer thread (sqlite3 lets go of the GIL while it writes). `add` takes the row's values in
    `columns` order: str, int or None, and UTF-8 text as `text(raw)` gives it (bytes as they
    are for COPY, str for SQLite). Nothing else may use the connection until `close`."""

    BATCH = 10_000

    def __init__(
        self, conn: Connection, table: str, columns: tuple[str, ...], *, frozen: bool = False
    ) -> None:
        """`frozen`: PostgreSQL writes the rows frozen, as if already vacuumed, so the first reads
        after do not rewrite every page to mark its rows committed (the table must have been
        created or emptied by TRUNCATE in this transaction)."""
        self.cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self.pg = postgres(conn)
        self.count = 0
        self.buffer: list[Any] = []
        self.size = 0
        names = ", ".join(columns)
        if self.pg:
            freeze = " (FREEZE)" if frozen else ""
            self._context = self.cursor.copy(f"COPY {table} ({names}) FROM STDIN{freeze}")
            self._copy = self._context.__enter__()
        else:
            self._insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
            self._batches: queue.Queue[list[Any] | None] = queue.Queue(maxsize=4)
            self._failure: list[BaseException] = []
            # The writer needs the GIL for a moment per row (binding its values) and none while
            # SQLite writes it; a short switch interval hands it over often enough to overlap.
            self._interval = sys.getswitchinterval()
            sys.setswitchinterval(0.0002)
            self._writer = threading.Thread(target=self._write, name="onething-bulk-insert", daemon=True)
            self._writer.start()

    def _write(self) -> None:
        while (batch := self._batches.get()) is not None:
            if not self._failure:
                try:
                    self.cursor.executemany(self._insert, batch)
                except BaseException as exc:  # noqa: BLE001 - raised again by close()
                    self._failure.append(exc)

    def add(self, *values: Any) -> None:
        self.count += 1
        if not self.pg:
            self.buffer.append(values)
            if len(self.buffer) >= self.BATCH:
                self._batches.put(self.buffer)
                self.buffer = []
            return
        self._send(_copy_line(values))

    def add_many(self, rows: list[tuple[Any, ...]] | bytes, count: int) -> None:
        """`count` rows at once: tuples for SQLite, COPY text for PostgreSQL."""
        self.count += count
        if self.pg:
            assert type(rows) is bytes
            self._send(rows)
            return
        self.buffer.extend(rows)
        if len(self.buffer) >= self.BATCH:
            self._batches.put(self.buffer)
            self.buffer = []

    def _send(self, text: bytes) -> None:
        """COPY text on its way, a megabyte at a time."""
        self.buffer.append(text)
        self.size += len(text)
        if self.size >= 1 << 20:
            self._copy.write(b"".join(self.buffer))
            self.buffer.clear()
            self.size = 0

    def text(self, raw: bytes) -> bytes | str:
        """UTF-8 text as `add` takes it on this database."""
        return bytes(raw) if self.pg else str(raw, "utf-8")

    def close(self) -> int:
        """Send what is left and wait for it; the number of rows loaded."""
        if self.pg:
            if self.buffer:
                self._copy.write(b"".join(self.buffer))
            self._context.__exit__(None, None, None)
        else:
            if self.buffer:
                self._batches.put(self.buffer)
            self._batches.put(None)
            self._writer.join()
            sys.setswitchinterval(self._interval)
            if self._failure:
                raise self._failure[0]
        self.buffer = []
        return self.count


def _copy_line(values: tuple[Any, ...]) -> bytes:
    """A row in PostgreSQL's COPY text format. Joined first and searched once for what needs
    escaping (seldom there): a call per value costs more than the rest of a first publish's
    loop, a million times."""
    if None not in values:
        line = b"\t".join(
            [v if type(v) is bytes else b"%d" % v if type(v) is int else v.encode() for v in values]
        )
        if 92 not in line and 10 not in line and 13 not in line and line.count(9) == len(values) - 1:
            return line + b"\n"
    return b"\t".join([_copy_value(v) for v in values]) + b"\n"


def _copy_value(value: Any) -> bytes:
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return b"\\N"
    if type(value) is int:
        return b"%d" % value
    raw = value if type(value) is bytes else value.encode()
    if b"\\" in raw or b"\t" in raw or b"\n" in raw or b"\r" in raw:
        raw = raw.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return raw


def repeated_key(exc: BaseException) -> bool:
    """Whether a bulk load failed on a key given twice (a unique index or primary key)."""
    return isinstance(exc, sqlite3.IntegrityError) or getattr(exc, "sqlstate", None) == "23505"


def temp_table(conn: Connection, name: str, columns: str) -> str:
    """A temporary table for this transaction; returns the name to query it by."""
    if postgres(conn):
        conn.exec_driver_sql(f"CREATE TEMP TABLE {name} ({columns}) ON COMMIT DROP")
        return name
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {name} ({columns})")
    return f"temp.{name}"


def unique(conn: Connection, create: Callable[[], object]) -> bool:
    """Build a unique index; False (and nothing built) when the rows repeat a key. Building it
    is how a bulk load is checked for duplicate codes: the index is wanted anyway."""
    try:
        if postgres(conn):
            with conn.begin_nested():  # a failed statement must not abort the whole publish
                create()
        else:
            create()  # SQLite undoes the failed statement alone
    except sa.exc.IntegrityError:
        return False
    return True


def index_stage(conn: Connection, name: str, key: tuple[str, ...] = ("code",)) -> bool:
    """The stage's unique index on its `key` columns; False when a key repeats."""
    prefix = "" if postgres(conn) else "temp."
    bare = name.split(".")[-1]
    ok = unique(
        conn,
        lambda: conn.exec_driver_sql(f"CREATE UNIQUE INDEX {prefix}{bare}_key ON {bare} ({', '.join(key)})"),
    )
    if ok and postgres(conn):
        conn.exec_driver_sql(f"ANALYZE {bare}")
    return ok


def duplicates(conn: Connection, table: str, key: tuple[str, ...] = ("code",)) -> list[Finding]:
    """DUPLICATE for every key given more than once, naming the first line: an implementation's
    code, or (`key` of two columns) a record's kind and key."""
    columns = ", ".join(key)
    rows = conn.exec_driver_sql(
        f"SELECT {columns}, line FROM {table} WHERE ({columns}) IN "
        f"(SELECT {columns} FROM {table} GROUP BY {columns} HAVING count(*) > 1) ORDER BY {columns}, line"
    ).all()
    out: list[Finding] = []
    first: dict[tuple[str, str], int | None] = {}
    for *keyed, line in rows:
        kind, code = keyed if len(keyed) == 2 else ("implementation", keyed[0])
        if (kind, code) not in first:
            first[kind, code] = line
            continue
        out.append(finding("DUPLICATE", kind, code, line, duplicate_message(kind, code, first[kind, code])))
    return out
