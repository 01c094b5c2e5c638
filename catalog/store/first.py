"""The first publish into an empty store: every record is new, so every line is read,
validated and written — in one pass, straight into the table.

The catalog row is locked first (a second first publish waits, then reads what changed),
the table's indexes are dropped (the table is empty and nobody reads it yet), and as the
file is decoded and validated each implementation line goes to the database (COPY on
PostgreSQL, which takes it in on its own core while this one validates; batched INSERTs on
SQLite). At the end the indexes are built once (the unique one finds duplicate codes) and
the rest is written. Any error refuses, and the transaction rolls it all back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..model import Implementation
from .review import Touched
from .schema import IMPLEMENTATION_COLUMNS, ImplementationRow
from .writes import (
    BulkLoader,
    Published,
    Refused,
    duplicates,
    phase,
    postgres,
    take_catalog,
    transaction,
    unique,
    write_bundles,
    write_findings,
    write_small,
    write_version,
)

_blake2b = hashlib.blake2b
TABLE: Any = ImplementationRow.__table__


class NotFirst(Exception):
    """The store was not empty after all (a publish committed meanwhile)."""


class _Loader:
    """The sink of the validating pass: each implementation line, as it was submitted (it
    decodes to the same record; export gives it back), on its way into the table."""

    def __init__(self, conn: Connection, version: int) -> None:
        self.version = version
        self.per_item: dict[str, int] = {}
        self.rows = BulkLoader(conn, TABLE.name, IMPLEMENTATION_COLUMNS)

    def __call__(self, line: int, impl: Implementation, raw: bytes) -> None:
        body = raw.rstrip(b"\r\n")
        code = impl.code
        level = code[18:19]
        self.per_item[impl.item] = self.per_item.get(impl.item, 0) + 1
        self.rows.add(
            self.version,
            code,
            _blake2b(body, digest_size=16).hexdigest(),
            impl.item,
            impl.region,
            int(level) if level and level in "1234" else 4,
            line,
            body,
        )

    def close(self) -> None:
        self.rows.close()


def publish_first(
    engine: Engine,
    path: str | Path,
    *,
    by: str,
    note: str,
    progress: Callable[[int], None] | None,
    lock_timeout: float,
) -> Published:
    from ..validate import validate_for_publish

    with transaction(engine, lock_timeout) as conn:
        version = take_catalog(conn)
        if version != 1 or conn.execute(sa.select(TABLE.c.code).limit(1)).first() is not None:
            raise NotFirst  # another publish came first: this one reads what changed
        for index in TABLE.indexes:
            index.drop(conn)
        loader = _Loader(conn, version)
        with phase("reading and loading"), open(path, "rb") as fh:
            try:
                catalog, report = validate_for_publish(fh, loader, progress)
            finally:
                loader.close()
        errors = [f for f in report.findings if f.severity == "error"]
        if errors:  # every record is new, so touched: any error refuses
            raise Refused(errors)
        with phase("indexing"):
            key = next(index for index in TABLE.indexes if index.unique)
            if not unique(conn, lambda: key.create(conn)):
                raise Refused(duplicates(conn, TABLE.name))
            for index in TABLE.indexes - {key}:
                index.create(conn)
            if postgres(conn):  # the planner must know the table is no longer empty
                conn.exec_driver_sql(f"ANALYZE {TABLE.name}")
        touched = Touched()
        with phase("writing the rest"):
            added = write_small(conn, catalog, version, touched)[0]
            bundles = write_bundles(conn, catalog, touched)[0]
            write_findings(conn, catalog, report.findings, version)
        return write_version(
            conn,
            version,
            by=by,
            note=note,
            region=None,
            source=None,
            counts=(added + sum(loader.per_item.values()) + bundles, 0, 0),
            needs_review=0,
            findings=report.findings,
            conformity=report.conformity,
            per_item=loader.per_item,
        )
