"""The first publish into an empty store: every record is new, so every line is read,
validated and written — validated in one process while this one loads it.

The catalog row is locked first (a second first publish waits, then reads what changed),
the table's indexes are dropped (the table is empty and nobody reads it yet), and while a
process of its own validates a large file (`apart`), this one reads it too and sends each
implementation line to the table (COPY on PostgreSQL, which takes it in on a core of its
own; batched INSERTs on SQLite). The regions and service points — half a million of each at
five levels — are not sent back by the validation: their lines wait in a scratch file and go
to `catalog_record` in bulk too. At the end the indexes are built once (the unique one finds
duplicate codes) and the rest is written. Any error refuses, and the transaction rolls it all
back.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ... import scratch
from ...apart import Apart
from ...findings import Finding, finding
from ...load import BOM, gc_paused
from ...model import KIND, Region, key_of, record_decoder, record_encoder
from ...validate import PROGRESS_EVERY, sent_apart
from ...wording import duplicate_message
from .. import figures
from ..schema import (
    IMPLEMENTATION_COLUMNS,
    ImplementationRow,
    RecordRow,
    code_level,
    implementation_indexes,
    standing,
)
from .bulk import BulkLoader, duplicates, postgres, repeated_key, unique
from .rule import Touched
from .writes import (
    PLACE_KINDS,
    Finish,
    Published,
    Refused,
    phase,
    take_catalog,
    transaction,
    write_bundles,
    write_conformity,
    write_findings,
    write_small,
    write_version,
)

_blake2b = hashlib.blake2b
TABLE: Any = ImplementationRow.__table__
RECORD_COLUMNS = ("kind", "key", "valid_from", "hash", "line", "body", "region")


class NotFirst(Exception):
    """The store was not empty after all (a publish committed meanwhile)."""


class _Line(msgspec.Struct):
    """What loading needs of a line; whether the line is right is the validation's to say
    (which counts the statistics' figures too: it decodes every line whole anyway)."""

    kind: str = ""
    code: str = ""
    item: str = ""
    region: str = ""


_line = msgspec.json.Decoder(_Line).decode


def _load(
    conn: Connection,
    path: str | Path,
    version: int,
    progress: Callable[[int], None] | None,
    places: IO[bytes],
) -> dict[str, int]:
    """Every implementation line into the table as it was submitted (it decodes to the same
    record; export gives it back); returns how many each item has. The lines of regions and
    service points go to `places`, each after its number and a tab. A line that does not
    decode is left to the validation, whose finding refuses the publish."""
    per_item: dict[str, int] = {}
    rows = BulkLoader(conn, TABLE.name, IMPLEMENTATION_COLUMNS, frozen=True)
    add, text = rows.add, rows.text
    number = 0
    try:
        with open(path, "rb", buffering=1 << 20) as fh, gc_paused():
            for number, raw in enumerate(fh, 1):
                if not number % PROGRESS_EVERY and progress is not None:
                    progress(number)
                try:
                    line = _line(raw.removeprefix(BOM) if number == 1 else raw)
                except msgspec.DecodeError:
                    continue
                if line.kind != "implementation":
                    if line.kind in PLACE_KINDS:
                        places.write(b"%d\t%s\n" % (number, raw.rstrip(b"\r\n")))
                    continue
                body = raw.rstrip(b"\r\n")
                code = line.code
                per_item[line.item] = per_item.get(line.item, 0) + 1
                add(
                    version,
                    code,
                    _blake2b(body, digest_size=16).hexdigest(),
                    line.item,
                    line.region,
                    code_level(code),
                    number,
                    text(body),
                )
    finally:
        rows.close()
    if progress is not None:
        progress(number)
    return per_item


def _write_places(conn: Connection, places: IO[bytes], version: int) -> int:
    """The regions and service points `_load` set aside into `catalog_record`, as
    `writes.write_small` writes a new record (the validation found no error, so each decodes,
    once); returns how many."""
    encode = record_encoder.encode
    rows = BulkLoader(conn, RecordRow.__tablename__, RECORD_COLUMNS)
    add, text = rows.add, rows.text
    places.seek(0)
    try:
        with gc_paused():
            for spooled in places:
                number, raw = spooled.split(b"\t", 1)
                record = record_decoder.decode(raw)
                body = encode(record)
                if type(record) is Region:
                    kind, key = "region", record.code
                else:
                    kind, key = "service_point", record.id  # type: ignore[union-attr]
                add(
                    kind,
                    key,
                    version,
                    _blake2b(body, digest_size=16).hexdigest(),
                    int(number),
                    text(body),
                    standing(record),
                )
    finally:
        count = rows.close()
    return count


def _repeated_places(places: IO[bytes]) -> list[Finding]:
    """DUPLICATE for each region or service point given again, naming the first line: the
    validation checks a few counties at a time, and an id repeated in another county is only
    seen as the places are written."""
    first: dict[tuple[str, str], int] = {}
    out: list[Finding] = []
    places.seek(0)
    for spooled in places:
        number, raw = spooled.split(b"\t", 1)
        record = record_decoder.decode(raw)
        kind = KIND[type(record)]
        key = key_of(record)
        assert key is not None
        if (kind, key) in first:
            message = duplicate_message(kind, key, first[kind, key], getattr(record, "name", None))
            out.append(finding("DUPLICATE", kind, key, int(number), message))
        else:
            first[kind, key] = int(number)
    return out


def _write_below(conn: Connection, below: IO[bytes], version: int) -> None:
    """The conformity and own counts of the regions below the county and the item figures, as
    the validation sent them apart (`validate_for_publish`): a few thousand at a time, never all
    held."""
    for kind, *sent in sent_apart(below):
        if kind == "county":
            conformity, own = sent
            write_conformity(conn, version, conformity)
            figures.write_own(conn, version, own)
        else:
            figures.write_rolled(conn, version, sent[0])


def publish_first(
    engine: Engine,
    path: str | Path,
    *,
    by: str,
    note: str,
    progress: Callable[[int], None] | None,
    lock_timeout: float,
    take_bundles: bool = False,
    finish: Finish | None = None,
) -> Published:
    with transaction(engine, lock_timeout, bulk=True, finish=finish) as conn:
        version = take_catalog(conn)
        if version != 1 or conn.execute(sa.select(TABLE.c.code).limit(1)).first() is not None:
            raise NotFirst  # another publish came first: this one reads what changed
        indexes = implementation_indexes(conn.dialect.name)
        for index in indexes:
            index.drop(conn)
        if postgres(conn):  # emptied in this transaction, so the rows can be written frozen
            conn.exec_driver_sql(f"TRUNCATE {TABLE.name}")
        with (
            tempfile.TemporaryFile(dir=scratch.folder()) as places,
            tempfile.NamedTemporaryFile(dir=scratch.folder()) as below,
        ):
            with Apart(path, "validate", below.name) as validation:
                with phase("loading"):
                    per_item = _load(conn, path, version, progress, places)
                with phase("waiting for the validation"):
                    catalog, report, figured = validation.one()
            errors = [f for f in report.findings if f.severity == "error"]
            if errors:  # every record is new, so touched: any error refuses
                raise Refused(errors)
            with phase("indexing"):
                key, *others = indexes
                if not unique(conn, lambda: key.create(conn)):
                    raise Refused(duplicates(conn, TABLE.name))
                for index in others:
                    index.create(conn)
                if postgres(conn):  # the planner must know the table is no longer empty
                    conn.exec_driver_sql(f"ANALYZE {TABLE.name}")
            touched = Touched()
            with phase("writing the rest"):
                # the other small records first: they are compared with what is stored (nothing)
                added = write_small(conn, catalog, version, touched)[0]
                # the validation's catalog comes without them (held once, here, not twice)
                try:
                    added += _write_places(conn, places, version)
                except Exception as exc:
                    if repeated_key(exc):  # a service point's id in two counties (`Run.county`)
                        raise Refused(_repeated_places(places)) from None
                    raise
                bundles, _, kept = write_bundles(conn, catalog, touched, take=take_bundles)
                write_findings(conn, catalog, report.findings, version)
            with phase("writing the figures"):
                figures.write(conn, version, figured)
                _write_below(conn, below, version)
        return write_version(
            conn,
            version,
            by=by,
            note=note,
            region=None,
            source=None,
            counts=(added + sum(per_item.values()) + bundles, 0, 0),
            needs_review=0,
            findings=report.findings,
            conformity=report.conformity,
            per_item=per_item,
            kept=kept,
        )
