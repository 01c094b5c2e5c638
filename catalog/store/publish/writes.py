"""What every publish writes the same way: the transaction and its lock, temporary tables
loaded in bulk, the small records, the bundles, the findings and the version's row."""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...findings import Conformity, Finding, Report, Summary
from ...model import KIND, Catalog, key_of, record_encoder
from ..reads import bundle_decoder
from ..schema import (
    BUNDLES_ROW,
    CATALOG_ROW,
    BundleGoneRow,
    BundleRow,
    ConformityRow,
    FindingRow,
    ImplementationRow,
    ItemCountRow,
    RecordRow,
    StateRow,
    VersionRow,
    standing,
)
from .bulk import BulkLoader, postgres
from .rule import Touched

log = logging.getLogger("onething.store")

SMALL_KINDS = tuple(kind for kind in KIND.values() if kind not in ("implementation", "bundle"))
"""The kinds kept in `catalog_record`, the header (`catalog`) among them."""
PLACE_KINDS = ("region", "service_point")
"""The small kinds `write_small` leaves to others: half a million of each at five levels, written
from their lines (`first._write_places`, `places.Places`)."""


class Refused(Exception):
    """The submission has error findings on records it touches: nothing was written."""

    def __init__(self, findings: list[Finding]):
        super().__init__(f"{len(findings)} error finding(s)")
        self.findings = findings


class SheetRefused(Refused):
    """A region's sheet that cannot be read as implementations (not one of ours, merged cells,
    a cell of the wrong type): its findings, at worksheet, row and column. Nothing was read
    into the store."""


class StoreBusy(Exception):
    """Another writer held the catalog longer than the publish may wait (`lock_timeout`): nothing
    was written; try again. (Writers take their locks in one order, so this is never a deadlock
    and never starvation by bundle edits: only a long publish ahead in the queue.)"""


class KeptBundle(msgspec.Struct, frozen=True):
    """A bundle of the file not taken: designers edited (or deleted) it through the API since a
    file last wrote it, and the publish did not ask to take the file's bundles."""

    id: str
    name: str
    line: int | None
    """The file's line of the record not taken."""
    deleted: bool = False
    """Deleted through the API (and not created again), rather than edited."""

    @property
    def message(self) -> str:
        where = f"文件第 {self.line} 行" if self.line is not None else "文件中"
        if self.deleted:
            done = f"已在线删除，本次未按{where}的记录重新建立"
        else:
            done = f"已在线修改，本次保留在线修改后的内容，未采用{where}的记录"
        return (
            f"一件事「{self.name}」在上次以文件发布后{done}；如确需以文件为准，"
            "请明确要求采用文件中的一件事（命令行 --take-bundles，接口 take_bundles=true）重新发布。"
        )


class Published(msgspec.Struct, frozen=True):
    version: int
    added: int
    changed: int
    removed: int
    needs_review: int
    report: Report
    """The new version's findings: warnings, and the errors of the records it flags for review."""
    kept: tuple[KeptBundle, ...] = ()
    """The file's bundles not taken, so as not to undo designers' edits: each one a warning."""


def digest(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Log how long a phase of a publish took (INFO on `onething.store`): what an operator
    reads when a national publish is slower than it should be."""
    started = time.perf_counter()
    yield
    log.info("publish: %s took %.2f s", name, time.perf_counter() - started)


Finish = Callable[[Connection], bool]
"""What a publish does at its end, inside its transaction once everything is written (passed
down from the caller: the audit, a submission's decision, a dry run's look): what it writes
commits with the version, and returning False rolls the whole publish back (a dry run)."""


@contextmanager
def transaction(
    engine: Engine, lock_timeout: float, *, bulk: bool = False, finish: Finish | None = None
) -> Iterator[Connection]:
    """One publish's transaction; a lock wait past `lock_timeout` becomes StoreBusy. `bulk`: on
    SQLite, when no other connection has the database open, the transaction writes straight
    into the database file under a rollback journal instead of through the WAL, which would
    write every page twice (WAL, then checkpoint) — what halves a first publish's writing.
    `finish`: called at the end, inside the transaction (False: roll back)."""
    try:
        with engine.connect() as conn:
            direct = bulk and not postgres(conn) and _leave_wal(conn)
            if direct:
                log.info("publish: writing straight into the database file (no other connection)")
            try:
                with _publishing(conn) as statement_limit, conn.begin() as tx:
                    if postgres(conn):
                        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(lock_timeout * 1000)}ms'")
                        if statement_limit is not None:  # longer than an ordinary statement's
                            conn.exec_driver_sql(
                                f"SET LOCAL statement_timeout = '{int(statement_limit * 1000)}ms'"
                            )
                        # A publish's joins over the stage and index builds in memory, not on disk.
                        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
                        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
                    yield conn
                    if finish is not None and not finish(conn):
                        tx.rollback()
            finally:
                if direct:
                    _back_to_wal(conn, lock_timeout)
    except sa.exc.OperationalError as exc:
        names = {cls.__name__ for cls in type(exc.orig).__mro__}
        if "LockNotAvailable" in names or "database is locked" in str(exc.orig):
            raise StoreBusy(f"another publish held the catalog for over {lock_timeout:g} s") from None
        raise


@contextmanager
def _publishing(conn: Connection) -> Iterator[float | None]:
    """A PostgreSQL publish's statements get the longer limit (`limits.publishing`)."""
    if not postgres(conn):
        yield None
        return
    from ..guarded import publishing

    with publishing(conn.connection.driver_connection) as limit:
        yield limit


def _leave_wal(conn: Connection) -> bool:
    """Switch the database to a rollback journal if this is its only connection (True); the
    switch fails at once, and nothing changes, while any other connection has it open. A
    connection that opens meanwhile reads once this transaction ends (there is nothing before
    it to read: only the first publish into an empty store asks)."""
    dbapi = conn.connection.driver_connection
    waits = dbapi.execute("PRAGMA busy_timeout").fetchone()[0]  # type: ignore[union-attr]
    dbapi.execute("PRAGMA busy_timeout = 0")  # type: ignore[union-attr]
    try:
        mode = dbapi.execute("PRAGMA journal_mode = DELETE").fetchone()[0]  # type: ignore[union-attr]
    except sqlite3.OperationalError:  # another connection has it open
        mode = "wal"
    finally:
        dbapi.execute(f"PRAGMA busy_timeout = {int(waits)}")  # type: ignore[union-attr]
    return bool(mode == "delete")


def _back_to_wal(conn: Connection, lock_timeout: float) -> None:
    """WAL again, once no reader that came meanwhile is reading (every connection also asks for
    it when it opens)."""
    dbapi = conn.connection.driver_connection
    deadline = time.monotonic() + lock_timeout
    while True:
        try:
            if dbapi.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":  # type: ignore[union-attr]
                return
        except sqlite3.OperationalError:
            pass
        if time.monotonic() > deadline:
            log.warning("the database stays in rollback-journal mode until a connection opens")
            return
        time.sleep(0.01)


def take_catalog(conn: Connection) -> int:
    """Lock the catalog row (the first lock of every publish) and return the new version."""
    conn.execute(sa.update(StateRow).where(StateRow.id == CATALOG_ROW).values(counter=StateRow.counter + 1))
    return conn.execute(sa.select(StateRow.counter).where(StateRow.id == CATALOG_ROW)).scalar_one()


def empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(StateRow.counter).where(StateRow.id == CATALOG_ROW)).scalar_one() == 0


# -- the small records and the bundles --------------------------------------------------------


def small_records(catalog: Catalog) -> Iterator[tuple[str, str, bytes, int | None, str | None]]:
    """(kind, key, body, line, where it stands) of every small record, the header as kind
    `catalog` with key ''."""
    encode = record_encoder.encode
    for record in catalog.records():
        kind = KIND[type(record)]
        if kind not in SMALL_KINDS:
            continue
        key = key_of(record) or ""
        yield kind, key, encode(record), catalog.line_of(kind, key or None), standing(record)


SMALL_BATCH = 10_000
"""Small records written per INSERT: a five-level catalog has a million of them, never all
built as rows at once."""
CONFORMITY_COLUMNS = ("version", "region", "implementations", "conforming")


def write_small(conn: Connection, catalog: Catalog, version: int, touched: Touched) -> tuple[int, int, int]:
    """Compare the small records with the newest version's by hash (the bodies read only of
    those that changed); close the changed and removed ones, write the changed and new ones, in
    batches. Returns (added, changed, removed) and fills `touched`. The places are not among
    them: `catalog` comes without, and the stored ones are not compared."""
    current = {
        (kind, key): hashed
        for kind, key, hashed in conn.execute(
            sa.select(RecordRow.kind, RecordRow.key, RecordRow.hash).where(
                RecordRow.valid_to.is_(None), RecordRow.kind.not_in(PLACE_KINDS)
            )
        )
    }
    rows: list[dict[str, Any]] = []
    closing: list[dict[str, str]] = []
    changed_bodies: dict[tuple[str, str], str] = {}
    seen: set[tuple[str, str]] = set()
    added = changed = 0
    for kind, key, body, line, region in small_records(catalog):
        hashed = digest(body)
        seen.add((kind, key))
        old = current.get((kind, key))
        if old == hashed:
            continue
        touched.small.add((kind, key))
        if old is None:
            added += 1
        else:
            changed += 1
            changed_bodies[(kind, key)] = body.decode()
            closing.append({"k": kind, "y": key})
        rows.append(
            {
                "kind": kind,
                "key": key,
                "valid_from": version,
                "valid_to": None,
                "hash": hashed,
                "line": line,
                "body": body.decode(),
                "region": region,
            }
        )
        if len(rows) >= SMALL_BATCH:
            conn.execute(sa.insert(RecordRow), rows)
            rows.clear()
    keys = list(changed_bodies)
    for start in range(0, len(keys), 500):  # the old bodies, read in pieces a database takes
        for kind, key, old_body in conn.execute(
            sa.select(RecordRow.kind, RecordRow.key, RecordRow.body).where(
                RecordRow.valid_to.is_(None),
                RecordRow.valid_from < version,
                sa.tuple_(RecordRow.kind, RecordRow.key).in_(keys[start : start + 500]),
            )
        ):
            touched.changed[(kind, key)] = (old_body, changed_bodies[(kind, key)])
    removed = [(kind, key) for (kind, key) in current if (kind, key) not in seen]
    touched.removed.update(removed)
    closing.extend({"k": kind, "y": key} for kind, key in removed)
    if closing:  # the rows this version wrote stay open
        conn.execute(
            sa.update(RecordRow)
            .where(
                RecordRow.kind == sa.bindparam("k"),
                RecordRow.key == sa.bindparam("y"),
                RecordRow.valid_to.is_(None),
                RecordRow.valid_from < version,
            )
            .values(valid_to=version),
            closing,
        )
    if rows:
        conn.execute(sa.insert(RecordRow), rows)
    return added, changed, len(removed)


def write_bundles(
    conn: Connection, catalog: Catalog, touched: Touched, *, take: bool = False
) -> tuple[int, int, list[KeptBundle]]:
    """Take the bundles row (after the catalog row), check that the stored bundles the file does
    not redefine still hold against the new catalog, then create or replace the file's bundles.
    Returns (added, changed, kept): a stored bundle the file leaves out stays.

    A bundle edited through the API since a file last wrote it (its `line` is NULL), or deleted
    through the API since, is not undone by the file's record unless `take`: the stored one is
    kept (and must hold like one the file leaves out), and it goes in `catalog` in place of the
    file's record, so the validation that follows is of what is published. A file that gives
    the stored record again confirms it: from then on a file writes it as before."""
    from ...validate import bundle_findings

    conn.execute(sa.update(StateRow).where(StateRow.id == BUNDLES_ROW).values(counter=StateRow.counter + 1))
    stored = {row.id: row for row in conn.execute(sa.select(BundleRow))}
    gone = {} if take else {row.id: row for row in conn.execute(sa.select(BundleGoneRow))}
    kept: list[KeptBundle] = []
    lines = catalog.lines.setdefault("bundle", {})
    for bundle_id, bundle in list(catalog.bundles.items()):
        found = stored.get(bundle_id)
        if found is not None and found.line is None and not take:
            held = bundle_decoder.decode(found.body)
            if held != bundle:
                kept.append(KeptBundle(bundle_id, held.name, lines.pop(bundle_id, None)))
                catalog.bundles[bundle_id] = held
        elif found is None and bundle_id in gone:
            kept.append(KeptBundle(bundle_id, bundle.name, lines.pop(bundle_id, None), deleted=True))
            del catalog.bundles[bundle_id]
    ours = {k.id for k in kept}
    errors: list[Finding] = []
    for bundle_id, row in stored.items():
        if bundle_id not in catalog.bundles or bundle_id in ours:
            errors.extend(
                f for f in bundle_findings(bundle_decoder.decode(row.body), catalog) if f.severity == "error"
            )
    if errors:
        raise Refused(errors)
    for bundle_id, bundle in catalog.bundles.items():
        if bundle_id in ours:
            continue
        body = record_encoder.encode(bundle).decode()
        line = catalog.line_of("bundle", bundle_id)
        found = stored.get(bundle_id)
        if found is None:
            touched.bundles.add(bundle_id)
            conn.execute(sa.insert(BundleRow).values(id=bundle_id, body=body, version=1, line=line))
        elif found.body != body:
            touched.bundles.add(bundle_id)
            conn.execute(
                sa.update(BundleRow)
                .where(BundleRow.id == bundle_id)
                .values(body=body, version=found.version + 1, line=line)
            )
        elif found.line != line:  # the file confirms the stored record: it is the file's again
            conn.execute(sa.update(BundleRow).where(BundleRow.id == bundle_id).values(line=line))
    if take:
        conn.execute(sa.delete(BundleGoneRow).where(BundleGoneRow.id.in_(sorted(catalog.bundles))))
    changed = sum(1 for b in touched.bundles if b in stored)
    return len(touched.bundles) - changed, changed, kept


# -- the version's report and row -------------------------------------------------------------


def write_findings(conn: Connection, catalog: Catalog, findings: list[Finding], version: int) -> None:
    """The version's findings, each with the region and item it is about, so that a reviewer's
    page of one region or one item is an indexed query."""
    rows = []
    for seq, f in enumerate(findings):
        region = item = None
        if f.kind == "region":
            region = f.key
        elif f.kind == "item" and f.key in catalog.items:
            region, item = catalog.items[f.key].owner, f.key
        elif f.kind == "service_point" and f.key in catalog.service_points:
            region = catalog.service_points[f.key].region
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


def write_conformity(conn: Connection, version: int, conformity: Iterable[Conformity]) -> None:
    """Regions' conformity in the version."""
    # a row per region, half a million at five levels, each version: in bulk (COPY on PostgreSQL),
    # or a township's submission would spend seconds on the regions it did not touch
    conforming = BulkLoader(conn, ConformityRow.__tablename__, CONFORMITY_COLUMNS)
    try:
        for c in conformity:
            conforming.add(version, c.region, c.implementations, c.conforming)
    finally:
        conforming.close()


def write_version(
    conn: Connection,
    version: int,
    *,
    by: str,
    note: str,
    region: str | None,
    source: int | None,
    counts: tuple[int, int, int],
    needs_review: int,
    findings: list[Finding],
    conformity: list[Conformity],
    per_item: dict[str, int],
    kept: list[KeptBundle] | None = None,
) -> Published:
    """The version's conformity, per-item counts and row; what the publish answers."""
    write_conformity(conn, version, conformity)
    rows = [{"version": version, "item": k, "implementations": n} for k, n in per_item.items() if n]
    if rows:
        conn.execute(sa.insert(ItemCountRow), rows)
    errors = sum(1 for f in findings if f.severity == "error")
    added, changed, removed = counts
    conn.execute(
        sa.insert(VersionRow).values(
            version=version,
            published_at=datetime.now(UTC),
            by=by,
            note=note,
            region=region,
            source=source,
            added=added,
            changed=changed,
            removed=removed,
            needs_review=needs_review,
            implementations=sum(per_item.values()),
            errors=errors,
            warnings=len(findings) - errors,
            tag=secrets.token_hex(12),
        )
    )
    report = Report(findings=findings, conformity=conformity, summary=Summary(errors, len(findings) - errors))
    return Published(
        version=version,
        added=added,
        changed=changed,
        removed=removed,
        needs_review=needs_review,
        report=report,
        kept=tuple(kept or ()),
    )


def new_version(conn: Connection) -> int:
    """Inside a publish's transaction (its `finish`): the version it is writing."""
    return conn.execute(sa.select(StateRow.counter).where(StateRow.id == CATALOG_ROW)).scalar_one()
