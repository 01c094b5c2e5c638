"""The first publish into an empty store: every record is new, so every line is read,
validated and written.

The file is decoded and validated in one streaming pass; each implementation's line is
spilled to a local file as a ready bulk-write row (memory stays bounded by the small
records), then one transaction checks duplicate codes and copies the rows in.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import Engine

from ..model import Implementation
from .review import Touched
from .schema import IMPLEMENTATION_COLUMNS, ImplementationRow
from .writes import (
    Published,
    Refused,
    copy_rows,
    duplicates,
    index_temp,
    lines_of,
    optional_int,
    phase,
    take_catalog,
    temp_table,
    text,
    text_bytes,
    transaction,
    untext,
    write_bundles,
    write_findings,
    write_small,
    write_version,
)

_blake2b = hashlib.blake2b


class NotFirst(Exception):
    """The store was not empty after all (a publish committed meanwhile)."""


class Spill:
    """Implementations on their way to the database, as bulk-write rows in a local file, with
    (code, line) of each in a second, small one (for the duplicate check)."""

    def __init__(self, directory: Path) -> None:
        self.rows_path = directory / "rows"
        self.keys_path = directory / "keys"
        self.rows: BinaryIO = open(self.rows_path, "wb", buffering=1 << 20)  # noqa: SIM115
        self.keys: BinaryIO = open(self.keys_path, "wb", buffering=1 << 20)  # noqa: SIM115
        self.per_item: dict[str, int] = {}

    def __call__(self, line: int, impl: Implementation, raw: bytes) -> None:
        # The hot path of a national publish: one digest, one format, two writes per row. The
        # line is kept as it was submitted (it decodes to the same record; export gives it back).
        body = raw.rstrip(b"\r\n")
        hexed = _blake2b(body, digest_size=16).hexdigest()
        code, item, region = text(impl.code), text(impl.item), text(impl.region)
        level = code[18:19]
        if not level or level not in "1234":
            level = "4"
        if b"\\" in body or b"\t" in body or b"\r" in body:
            body = text_bytes(body)
        self.rows.write(f"{code}\t{hexed}\t{item}\t{region}\t{level}\t{line}\t".encode() + body + b"\n")
        self.keys.write(f"{code}\t{line}\n".encode())
        self.per_item[impl.item] = self.per_item.get(impl.item, 0) + 1

    def close(self) -> None:
        self.rows.close()
        self.keys.close()


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

    with tempfile.TemporaryDirectory(prefix="onething-publish-") as tmp:
        spill = Spill(Path(tmp))
        try:
            with phase("reading"), open(path, "rb") as fh:
                catalog, report = validate_for_publish(fh, spill, progress)
        finally:
            spill.close()
        errors = [f for f in report.findings if f.severity == "error"]
        if errors:  # every record is new, so touched: any error refuses
            raise Refused(errors)
        with transaction(engine, lock_timeout) as conn:
            with phase("duplicates"):
                keys = temp_table(conn, "onething_keys", "code text, line int")
                copy_rows(conn, keys, ("code", "line"), lines_of(spill.keys_path), (untext, optional_int))
                index_temp(conn, "onething_keys", "code")
                found = duplicates(conn, keys)
            if found:
                raise Refused(found)
            version = take_catalog(conn)
            if version != 1:
                raise NotFirst  # another publish came first: this one reads what changed
            touched = Touched()
            with phase("writing"):
                added = write_small(conn, catalog, version, touched)[0]
                prefix = b"%d\t" % version
                rows = copy_rows(
                    conn,
                    ImplementationRow.__tablename__,
                    IMPLEMENTATION_COLUMNS,
                    (prefix + row for row in lines_of(spill.rows_path)),
                    (int, untext, bytes.decode, untext, untext, int, optional_int, untext),
                )
                bundles = write_bundles(conn, catalog, touched)[0]
                write_findings(conn, catalog, report.findings, version)
            return write_version(
                conn,
                version,
                by=by,
                note=note,
                region=None,
                source=None,
                counts=(added + rows + bundles, 0, 0),
                needs_review=0,
                findings=report.findings,
                conformity=report.conformity,
                per_item=spill.per_item,
            )
