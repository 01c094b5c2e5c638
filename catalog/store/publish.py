"""Publishing a whole catalog file: the next version, writing only what changed.

Two phases, so that nothing waits on the database while the file is read:

1. Read (no database): the file is decoded and validated in one streaming pass.
   The small records stay in memory (they grow with items and regions, never
   with implementations); each implementation is encoded canonically, hashed,
   and spilled to a local file as a ready bulk-write row, with a second small
   file of (code, hash, offset) for the comparison.
2. Write (one transaction): the (code, hash) pairs go to a temporary table; the
   database finds duplicate codes and, against the newest version, which
   implementations were removed or changed (their rows are closed) and which
   are new or changed (their rows are copied in from the spill file, by
   offset). Small records are compared in memory. The version's findings,
   conformity and per-item counts are written with it. A crash at any moment
   leaves the old version or the new one.

Memory stays bounded by the small records: the millions only pass through.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..findings import Finding, Report, finding
from ..model import KIND, Bundle, Catalog, Implementation, key_of, record_encoder
from .review import ALWAYS_TOUCHED, Touched, flag, touched_errors
from .schema import (
    BUNDLES_ROW,
    CATALOG_ROW,
    IMPLEMENTATION_COLUMNS,
    BundleRow,
    ConformityRow,
    FindingRow,
    ImplementationRow,
    ItemCountRow,
    RecordRow,
    StateRow,
    VersionRow,
)

log = logging.getLogger("onething.store")

STAGE = "onething_stage"
SMALL_KINDS = tuple(kind for kind in KIND.values() if kind not in ("implementation", "bundle"))
"""The kinds kept in `catalog_record`, the header (`catalog`) among them."""


class Refused(Exception):
    """The submission has error findings: nothing was written."""

    def __init__(self, findings: list[Finding]):
        super().__init__(f"{len(findings)} error finding(s)")
        self.findings = findings


class StoreBusy(Exception):
    """Another writer held the catalog longer than the publish may wait (`lock_timeout`): nothing
    was written; try again. (Writers take their locks in one order, so this is never a deadlock
    and never starvation by bundle edits: only a long publish ahead in the queue.)"""


class Published(msgspec.Struct, frozen=True):
    version: int
    added: int
    changed: int
    removed: int
    needs_review: int
    report: Report
    """The new version's findings: warnings, and the errors of the records it flags for review."""


def digest(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


# -- phase 1: read ---------------------------------------------------------------------------


class Spill:
    """Implementations on their way to the database, as bulk-write rows in a local file."""

    def __init__(self, directory: Path) -> None:
        self.rows_path = directory / "rows"
        self.stage_path = directory / "stage"
        self.rows: BinaryIO = open(self.rows_path, "wb", buffering=1 << 20)  # noqa: SIM115
        self.stage: BinaryIO = open(self.stage_path, "wb", buffering=1 << 20)  # noqa: SIM115
        self.offset = 0
        self.count = 0
        self.per_item: dict[str, int] = {}

    def __call__(self, line: int | None, impl: Implementation) -> None:
        # The hot path of a national publish: one format, two writes, nothing else per row.
        body = _encode(impl)
        hexed = _blake2b(body, digest_size=16).hexdigest()
        code, item, region = impl.code, impl.item, impl.region
        if _SPECIAL.search(code) or _SPECIAL.search(item) or _SPECIAL.search(region):
            code, item, region = _text(code), _text(item), _text(region)
        number = "\\N" if line is None else line
        level = code[18:19]
        if not level or level not in "1234":
            level = "4"
        head = f"{code}\t{hexed}\t{item}\t{region}\t{level}\t{number}\t"
        row = head.encode() + (body.replace(b"\\", b"\\\\") if b"\\" in body else body) + b"\n"
        self.rows.write(row)
        self.stage.write(f"{code}\t{hexed}\t{self.offset}\t{number}\n".encode())
        self.offset += len(row)
        self.count += 1
        self.per_item[item] = self.per_item.get(item, 0) + 1

    def close(self) -> None:
        self.rows.close()
        self.stage.close()


_SPECIAL = re.compile(r"[\\\t\n\r]")
_encode = record_encoder.encode
_blake2b = hashlib.blake2b


def _text(value: str) -> str:
    """A value for PostgreSQL's COPY text format (escaped as that format wants)."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _untext(value: bytes) -> str:
    if b"\\" in value:
        value = (
            value.replace(b"\\\\", b"\x00")
            .replace(b"\\t", b"\t")
            .replace(b"\\n", b"\n")
            .replace(b"\\r", b"\r")
            .replace(b"\x00", b"\\")
        )
    return value.decode()


class Submission(msgspec.Struct, kw_only=True):
    """A file read for publishing: its small records, its report and its spilled implementations."""

    catalog: Catalog
    report: Report
    spill: Spill


def read(path: str | Path, directory: Path, progress: Callable[[int], None] | None = None) -> Submission:
    """Phase 1. Raises OSError when the file cannot be read."""
    from ..validate import validate_for_publish

    spill = Spill(directory)
    try:
        with open(path, "rb") as fh:
            catalog, report = validate_for_publish(_without_bom(fh), spill, progress)
    finally:
        spill.close()
    return Submission(catalog=catalog, report=report, spill=spill)


def _without_bom(fh: BinaryIO) -> Iterator[bytes]:
    first = True
    for raw in fh:
        if first:
            first = False
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
        yield raw


# -- phase 2: write --------------------------------------------------------------------------


def publish_file(
    engine: Engine,
    path: str | Path,
    *,
    by: str,
    note: str = "",
    progress: Callable[[int], None] | None = None,
    lock_timeout: float = 60,
) -> Published:
    """Publish a whole catalog file as the next version; raises Refused (nothing written)."""
    with tempfile.TemporaryDirectory(prefix="onething-publish-") as tmp:
        with _phase("reading"):
            submission = read(path, Path(tmp), progress)
        errors = [f for f in submission.report.findings if f.severity == "error"]
        # Refused at once when the errors are surely the submission's own: its own lines are
        # broken, or there is nothing published yet (every record is new, so touched).
        if errors and (any(f.rule in ALWAYS_TOUCHED for f in errors) or _empty(engine)):
            raise Refused(errors)
        return write(engine, submission, by=by, note=note, lock_timeout=lock_timeout)


def _empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(StateRow.counter).where(StateRow.id == CATALOG_ROW)).scalar_one() == 0


@contextmanager
def _phase(name: str) -> Iterator[None]:
    """Log how long a phase of a publish took (INFO on `onething.store`): what an operator
    reads when a national publish is slower than it should be."""
    started = time.perf_counter()
    yield
    log.info("publish: %s took %.2f s", name, time.perf_counter() - started)


def write(
    engine: Engine, sub: Submission, *, by: str, note: str, source: int | None = None, lock_timeout: float = 60
) -> Published:
    try:
        return _write(engine, sub, by=by, note=note, source=source, lock_timeout=lock_timeout)
    except sa.exc.OperationalError as exc:
        if _lock_wait_ended(exc):
            raise StoreBusy(f"another publish held the catalog for over {lock_timeout:g} s") from None
        raise


def _lock_wait_ended(exc: sa.exc.OperationalError) -> bool:
    names = {cls.__name__ for cls in type(exc.orig).__mro__}
    return "LockNotAvailable" in names or "database is locked" in str(exc.orig)


def _write(
    engine: Engine, sub: Submission, *, by: str, note: str, source: int | None, lock_timeout: float
) -> Published:
    with engine.connect() as conn, conn.begin():
        if _postgres(conn):
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(lock_timeout * 1000)}ms'")
        with _phase("staging"):
            _stage(conn, sub.spill)
            duplicates = _duplicates(conn)
        if duplicates:
            raise Refused(duplicates)
        # The catalog row first, then the bundles row: every writer takes them in this order.
        conn.execute(
            sa.update(StateRow).where(StateRow.id == CATALOG_ROW).values(counter=StateRow.counter + 1)
        )
        version = conn.execute(sa.select(StateRow.counter).where(StateRow.id == CATALOG_ROW)).scalar_one()
        touched = Touched(small=set(), bundles=set(), changed={})
        with _phase("writing"):
            small = _write_small(conn, sub.catalog, version, touched)
            impl = _write_implementations(conn, sub.spill, version)
            bundles = _write_bundles(conn, sub.catalog, touched)
        report = sub.report
        with _phase("findings"):
            _write_findings(conn, sub.catalog, report, version)
        errors = [f for f in report.findings if f.severity == "error"]
        needs_review = 0
        if errors:
            refused = touched_errors(conn, version, errors, touched)
            if refused:
                raise Refused(refused)
            needs_review = flag(conn, version, touched)
        if report.conformity:
            conn.execute(
                sa.insert(ConformityRow),
                [
                    {
                        "version": version,
                        "region": c.region,
                        "implementations": c.implementations,
                        "conforming": c.conforming,
                    }
                    for c in report.conformity
                ],
            )
        counts = [
            {"version": version, "item": k, "implementations": n} for k, n in sub.spill.per_item.items()
        ]
        if counts:
            conn.execute(sa.insert(ItemCountRow), counts)
        added, changed, removed = (a + b + c for a, b, c in zip(small, impl, bundles, strict=True))
        conn.execute(
            sa.insert(VersionRow).values(
                version=version,
                published_at=datetime.now(UTC),
                by=by,
                note=note,
                region=None,
                source=source,
                added=added,
                changed=changed,
                removed=removed,
                needs_review=needs_review,
                implementations=sub.spill.count,
                errors=report.summary.errors,
                warnings=report.summary.warnings,
                tag=secrets.token_hex(12),
            )
        )
    return Published(
        version=version,
        added=added,
        changed=changed,
        removed=removed,
        needs_review=needs_review,
        report=report,
    )


def _small_records(catalog: Catalog) -> Iterator[tuple[str, str, bytes, int | None]]:
    """(kind, key, body, line) of every small record, the header as kind `catalog` with key ''."""
    encode = record_encoder.encode
    for record in catalog.records():
        kind = KIND[type(record)]
        if kind not in SMALL_KINDS:
            continue
        key = key_of(record) or ""
        yield kind, key, encode(record), catalog.line_of(kind, key or None)


def _write_small(conn: Connection, catalog: Catalog, version: int, touched: Touched) -> tuple[int, int, int]:
    current = {
        (kind, key): (hashed, body)
        for kind, key, hashed, body in conn.execute(
            sa.select(RecordRow.kind, RecordRow.key, RecordRow.hash, RecordRow.body).where(
                RecordRow.valid_to.is_(None)
            )
        )
    }
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    added = changed = 0
    for kind, key, body, line in _small_records(catalog):
        hashed = digest(body).hex()
        seen.add((kind, key))
        old = current.get((kind, key))
        if old is not None and old[0] == hashed:
            continue
        touched.small.add((kind, key))
        if old is None:
            added += 1
        else:
            changed += 1
            touched.changed[(kind, key)] = (old[1], body.decode())
        rows.append(
            {
                "kind": kind,
                "key": key,
                "valid_from": version,
                "valid_to": None,
                "hash": hashed,
                "line": line,
                "body": body.decode(),
            }
        )
    closing = [{"k": r["kind"], "y": r["key"]} for r in rows if (r["kind"], r["key"]) in current]
    removed_keys = [{"k": kind, "y": key} for (kind, key) in current if (kind, key) not in seen]
    closing.extend(removed_keys)
    if closing:
        conn.execute(
            sa.update(RecordRow)
            .where(
                RecordRow.kind == sa.bindparam("k"),
                RecordRow.key == sa.bindparam("y"),
                RecordRow.valid_to.is_(None),
            )
            .values(valid_to=version),
            closing,
        )
    if rows:
        conn.execute(sa.insert(RecordRow), rows)
    return added, changed, len(removed_keys)


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _stage(conn: Connection, spill: Spill) -> None:
    """The submission's (code, hash, offset, line) in a temporary table, dropped at commit."""
    if _postgres(conn):
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {STAGE} (code text, hash text, off bigint, line int) ON COMMIT DROP"
        )
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {STAGE} FROM STDIN") as copy, open(spill.stage_path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        conn.exec_driver_sql(f"ANALYZE {STAGE}")
    else:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{STAGE}")
        conn.exec_driver_sql(f"CREATE TEMP TABLE {STAGE} (code TEXT, hash TEXT, off INTEGER, line INTEGER)")
        insert = f"INSERT INTO temp.{STAGE} VALUES (?, ?, ?, ?)"
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with open(spill.stage_path, "rb") as fh:
            batch: list[tuple[str, str, int, int | None]] = []
            for raw in fh:
                code, hashed, off, line = raw.rstrip(b"\n").split(b"\t")
                batch.append(
                    (_untext(code), hashed.decode(), int(off), None if line == b"\\N" else int(line))
                )
                if len(batch) >= 20_000:
                    cursor.executemany(insert, batch)
                    batch.clear()
            if batch:
                cursor.executemany(insert, batch)
        conn.exec_driver_sql(f"CREATE INDEX temp.{STAGE}_code ON {STAGE} (code, hash)")


def _duplicates(conn: Connection) -> list[Finding]:
    """DUPLICATE for every implementation code given more than once, naming the first line."""
    rows = conn.exec_driver_sql(
        f"SELECT code, line FROM {STAGE} WHERE code IN "
        f"(SELECT code FROM {STAGE} GROUP BY code HAVING count(*) > 1) ORDER BY code, off"
    ).all()
    out: list[Finding] = []
    first: dict[str, int | None] = {}
    for code, line in rows:
        if code not in first:
            first[code] = line
            continue
        where = f"first on line {first[code]}" if first[code] is not None else "first earlier in the file"
        out.append(
            finding(
                "DUPLICATE",
                "implementation",
                code,
                line,
                f"implementation {code} is defined again ({where}); only the first is kept",
            )
        )
    return out


def _write_implementations(conn: Connection, spill: Spill, version: int) -> tuple[int, int, int]:
    """Close the rows of removed and changed implementations, copy in the new and changed ones."""
    table = ImplementationRow.__tablename__
    empty = conn.execute(sa.select(ImplementationRow.code).limit(1)).first() is None
    closed = 0
    offsets: array[int] | None = None
    if not empty:
        closed = conn.exec_driver_sql(
            f"UPDATE {table} SET valid_to = %(v)s WHERE valid_to IS NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {STAGE} s WHERE s.code = {table}.code AND s.hash = {table}.hash)"
            if _postgres(conn)
            else f"UPDATE {table} SET valid_to = ? WHERE valid_to IS NULL AND NOT EXISTS "
            f"(SELECT 1 FROM temp.{STAGE} s WHERE s.code = {table}.code AND s.hash = {table}.hash)",
            {"v": version} if _postgres(conn) else (version,),
        ).rowcount
        offsets = array("q")
        stage = STAGE if _postgres(conn) else f"temp.{STAGE}"
        result = conn.exec_driver_sql(
            f"SELECT s.off FROM {stage} s WHERE NOT EXISTS (SELECT 1 FROM {table} i "
            f"WHERE i.code = s.code AND i.valid_to IS NULL) ORDER BY s.off",
            execution_options={"stream_results": True, "yield_per": 50_000},
        )
        for (off,) in result:
            offsets.append(off)
    inserted = _copy_in(conn, spill, version, offsets)
    changed = 0
    if closed:
        stage = STAGE if _postgres(conn) else f"temp.{STAGE}"
        changed = conn.exec_driver_sql(
            f"SELECT count(*) FROM {table} i WHERE i.valid_to = {int(version)} "
            f"AND EXISTS (SELECT 1 FROM {stage} s WHERE s.code = i.code)"
        ).scalar_one()
    return inserted - changed, changed, closed - changed


def _rows(spill: Spill, offsets: array[int] | None) -> Iterator[bytes]:
    with open(spill.rows_path, "rb", buffering=1 << 20) as fh:
        if offsets is None:
            yield from fh
            return
        for off in offsets:
            fh.seek(off)
            yield fh.readline()


def _copy_in(conn: Connection, spill: Spill, version: int, offsets: array[int] | None) -> int:
    table = ImplementationRow.__tablename__
    count = 0
    if _postgres(conn):
        prefix = b"%d\t" % version
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        columns = ", ".join(IMPLEMENTATION_COLUMNS)
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            buffer: list[bytes] = []
            size = 0
            for row in _rows(spill, offsets):
                buffer.append(prefix)
                buffer.append(row)
                size += len(row)
                count += 1
                if size >= 1 << 20:
                    copy.write(b"".join(buffer))
                    buffer.clear()
                    size = 0
            if buffer:
                copy.write(b"".join(buffer))
        return count
    insert = f"INSERT INTO {table} ({', '.join(IMPLEMENTATION_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    batch: list[tuple[Any, ...]] = []
    for row in _rows(spill, offsets):
        code, hashed, item, region, level, line, body = row.rstrip(b"\n").split(b"\t", 6)
        batch.append(
            (
                version,
                _untext(code),
                hashed.decode(),
                _untext(item),
                _untext(region),
                int(level),
                None if line == b"\\N" else int(line),
                _untext(body),
            )
        )
        if len(batch) >= 20_000:
            cursor.executemany(insert, batch)
            count += len(batch)
            batch.clear()
    if batch:
        cursor.executemany(insert, batch)
        count += len(batch)
    return count


def _write_bundles(conn: Connection, catalog: Catalog, touched: Touched) -> tuple[int, int, int]:
    """Take the bundles row (after the catalog row), check that the stored bundles the file does
    not redefine still hold against the new catalog, then create or replace the file's bundles.
    Returns (added, changed, 0): a stored bundle the file leaves out stays."""
    from ..validate import bundle_findings

    conn.execute(sa.update(StateRow).where(StateRow.id == BUNDLES_ROW).values(counter=StateRow.counter + 1))
    stored = {row.id: row for row in conn.execute(sa.select(BundleRow))}
    errors: list[Finding] = []
    decode = bundle_decoder.decode
    for bundle_id, row in stored.items():
        if bundle_id in catalog.bundles:
            continue
        errors.extend(f for f in bundle_findings(decode(row.body), catalog) if f.severity == "error")
    if errors:
        raise Refused(errors)
    for bundle_id, bundle in catalog.bundles.items():
        body = record_encoder.encode(bundle).decode()
        line = catalog.line_of("bundle", bundle_id)
        found = stored.get(bundle_id)
        if found is None or found.body != body:
            touched.bundles.add(bundle_id)
        if found is None:
            conn.execute(sa.insert(BundleRow).values(id=bundle_id, body=body, version=1, line=line))
        elif found.body != body:
            conn.execute(
                sa.update(BundleRow)
                .where(BundleRow.id == bundle_id)
                .values(body=body, version=found.version + 1, line=line)
            )
    changed = sum(1 for b in touched.bundles if b in stored)
    return len(touched.bundles) - changed, changed, 0


bundle_decoder = msgspec.json.Decoder(Bundle)


def _write_findings(conn: Connection, catalog: Catalog, report: Report, version: int) -> None:
    """The version's report, each finding with the region and item it is about, so that a
    reviewer's page of one region or one item is an indexed query."""
    rows = []
    for seq, f in enumerate(report.findings):
        region = item = None
        if f.kind == "region":
            region = f.key
        elif f.kind == "item" and f.key in catalog.items:
            region, item = catalog.items[f.key].owner, f.key
        rows.append(
            {
                "version": version,
                "seq": seq,
                "rule": f.rule,
                "severity": f.severity,
                "kind": f.kind,
                "key": f.key,
                "line": f.line,
                "message": f.message,
                "region": region,
                "item": item,
            }
        )
    if not rows:
        return
    conn.execute(sa.insert(FindingRow), rows)
    impl = ImplementationRow.__table__
    fnd: Any = FindingRow.__table__

    def of_implementation(column: Any) -> Any:
        return (
            sa.select(column)
            .where(
                impl.c.code == fnd.c.key,
                impl.c.valid_from <= version,
                sa.or_(impl.c.valid_to.is_(None), impl.c.valid_to > version),
            )
            .limit(1)
            .scalar_subquery()
        )

    conn.execute(
        sa.update(fnd)
        .where(fnd.c.version == version, fnd.c.kind == "implementation")
        .values(region=of_implementation(impl.c.region), item=of_implementation(impl.c.item))
    )
