"""A republish's regions and service points, compared by the digest of their lines as the
implementations are: at five levels there are half a million of each, and a republish seldom
changes more than a few. Only the lines the store does not hold byte for byte are decoded; what
really changed is written and checked, and the validation run is given, from the store, just the
regions its checks name.

What the run is given (`Places`):
- the new and changed places of the file, checked as a whole-file run checks them;
- from the store, marked checked (their findings cannot have changed): the regions down to the
  county, the regions items, bundles and the checked service points name, with the townships
  above the villages among them (`start`), then, batch by batch, the regions of the
  implementations validated again (`know`);
- from the store, to be checked again: the regions and service points a removed region or item
  leaves dangling (a parent, a region, an item they assist with or take gone).

A stored place's digest is of its canonical encoding: a file written by another tool (other
spacing, another field order) has each of its places decoded and compared every time — as
slow as before, never wrong.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ... import scratch
from ...codes import COUNTY_DIGITS, REGION_LENGTH
from ...findings import Finding
from ...model import Region, ServicePoint, key_of, record_decoder, record_encoder
from ...validate import Run, decode_line
from ..reads import SHORT_CODE, bundle_decoder, bundles, point_decoder, region_decoder
from ..schema import RecordRow, standing
from .bulk import BulkLoader, duplicates, index_stage, postgres, temp_table
from .rule import Touched
from .writes import PLACE_KINDS, digest

COLUMNS = ("kind", "key", "hash", "off", "len", "line")
KEY = ("kind", "key")
BATCH = 500
"""Keys per IN list."""


def stage(conn: Connection) -> tuple[str, PlaceRows]:
    """The temporary table for (kind, key, digest, offset, length, line) of every place line, and
    what a scan gives those rows to."""
    name = temp_table(
        conn, "onething_places", "kind text, key text, hash text, off bigint, len int, line int"
    )
    return name, PlaceRows(postgres(conn))


class PlaceRows:
    """The place rows a scan finds, kept in a scratch file until the implementations' stage is
    loaded (a connection takes one COPY at a time), then loaded into the place stage."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg
        self.file = tempfile.TemporaryFile(dir=scratch.folder())  # noqa: SIM115 - closed by `load`

    def add_many(self, rows: list[tuple[Any, ...]] | bytes) -> None:
        """Rows as `digest` makes them: COPY text for PostgreSQL, tuples for SQLite."""
        if self.pg:
            self.file.write(rows)  # type: ignore[arg-type]
        else:
            pickle.dump(rows, self.file, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, conn: Connection, stage: str) -> None:
        try:
            loader = BulkLoader(conn, stage, COLUMNS)
            try:
                self.file.seek(0)
                if self.pg:
                    while chunk := self.file.read(1 << 20):
                        loader.add_many(chunk, 0)
                else:
                    while True:
                        try:
                            rows = pickle.load(self.file)
                        except EOFError:
                            break
                        loader.add_many(rows, len(rows))
            finally:
                loader.close()
        finally:
            self.file.close()


class Places:
    """The places of one republish: compared, written, and given to its run."""

    def __init__(self, conn: Connection, stage: str | None, run: Run) -> None:
        """`stage`: the scan's (None for a partial submission, which gives no places: the run
        is only given regions, `know`)."""
        self.conn = conn
        self.stage_name = stage
        self.stage = sa.table((stage or "").split(".")[-1], *(sa.column(c) for c in COLUMNS))
        self.run = run
        self.asked: set[str] = set()
        """Region codes looked for in the store (found or not): never asked twice."""

    # -- comparing and writing ---------------------------------------------------------------

    def refused(self) -> list[Finding]:
        """DUPLICATE for every place given more than once, naming the line of the first."""
        assert self.stage_name
        if index_stage(self.conn, self.stage_name, KEY):
            return []
        return duplicates(self.conn, self.stage_name, KEY)

    def write(self, version: int, source: BinaryIO, touched: Touched) -> tuple[int, int, int]:
        """Decode the lines the store does not hold byte for byte; close what changed or went,
        write what changed or came; give the run the new and changed places. Returns (added,
        changed, removed) and fills `touched`."""
        r: Any = RecordRow.__table__
        s = self.stage
        candidates = self.conn.execute(
            sa.select(s.c.kind, s.c.key, s.c.off, s.c.len, s.c.line)
            .where(
                ~sa.exists().where(
                    r.c.kind == s.c.kind, r.c.key == s.c.key, r.c.hash == s.c.hash, r.c.valid_to.is_(None)
                )
            )
            .order_by(s.c.off)
        ).all()
        fresh: list[tuple[str, str, int, Region | ServicePoint, bytes]] = []
        closing: list[dict[str, str]] = []
        added = changed = 0
        for start in range(0, len(candidates), BATCH):
            batch = candidates[start : start + BATCH]
            held = self._bodies([(kind, key) for kind, key, *_ in batch])
            for kind, key, off, length, line in batch:
                source.seek(off)
                obj = decode_line(line, source.read(length))
                if not isinstance(obj, Region | ServicePoint):
                    self.run.line(line, obj)  # SCHEMA: refuses the publish, which touched it
                    continue
                body = record_encoder.encode(obj)
                old = held.get((kind, key))
                if old is not None and record_decoder.decode(old) == obj:
                    continue  # the same record, written differently
                touched.small.add((kind, key))
                if old is None:
                    added += 1
                else:
                    changed += 1
                    touched.changed[(kind, key)] = (old, body.decode())
                    closing.append({"k": kind, "y": key})
                fresh.append((kind, key, line, obj, body))
        removed = self.conn.execute(
            sa.select(r.c.kind, r.c.key).where(
                r.c.kind.in_(PLACE_KINDS),
                r.c.valid_to.is_(None),
                ~sa.exists().where(s.c.kind == r.c.kind, s.c.key == r.c.key),
            )
        ).all()
        touched.removed.update((kind, key) for kind, key in removed)
        closing.extend({"k": kind, "y": key} for kind, key in removed)
        if closing:
            self.conn.execute(
                sa.update(r)
                .where(r.c.kind == sa.bindparam("k"), r.c.key == sa.bindparam("y"), r.c.valid_to.is_(None))
                .values(valid_to=version),
                closing,
            )
        if fresh:
            self.conn.execute(
                sa.insert(r),
                [
                    {
                        "kind": kind,
                        "key": key,
                        "valid_from": version,
                        "valid_to": None,
                        "hash": digest(body),
                        "line": line,
                        "body": body.decode(),
                        "region": standing(obj),
                    }
                    for kind, key, line, obj, body in fresh
                ],
            )
        for _, _, line, obj, _ in fresh:
            self.run.line(line, obj)
        return added, changed, len(removed)

    def _bodies(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        r = RecordRow
        rows = self.conn.execute(
            sa.select(r.kind, r.key, r.body).where(sa.tuple_(r.kind, r.key).in_(keys), r.valid_to.is_(None))
        )
        return {(kind, key): body for kind, key, body in rows}

    # -- what the run is given from the store -------------------------------------------------

    def start(self, touched: Touched) -> None:
        """After `write`: the regions the run's checks of the small records name, as checked,
        and the places a removed region or item leaves dangling, to be checked again."""
        c = self.run.catalog
        r: Any = RecordRow.__table__
        short = self.conn.execute(
            sa.select(r.c.key).where(
                r.c.kind == "region", SHORT_CODE <= COUNTY_DIGITS, r.c.valid_to.is_(None)
            )
        )
        named = {key for (key,) in short} | self.run.named_regions()
        for _, body, _, _ in bundles(self.conn):
            named.update(bundle_decoder.decode(body).regions or ())
        named.update(p.region for p in c.service_points.values())
        named.update(g.parent for g in c.regions.values() if g.parent is not None)
        self.know(named)
        gone_regions = sorted(key for kind, key in touched.removed if kind == "region")
        gone_items = sorted(key for kind, key in touched.removed if kind == "item")
        again: list[tuple[int | None, Region | ServicePoint]] = []
        for start in range(0, len(gone_regions), BATCH):
            among = gone_regions[start : start + BATCH]
            again.extend(self._held(r.c.kind.in_(PLACE_KINDS), r.c.region.in_(among)))
        for start in range(0, len(gone_items), BATCH):  # rare: a point's items are in its body
            names = [r.c.body.contains(f'"{item}"') for item in gone_items[start : start + BATCH]]
            again.extend(self._held(r.c.kind == "service_point", sa.or_(*names)))
        for line, obj in again:
            if key_of(obj) in (c.regions if type(obj) is Region else c.service_points):
                continue  # given already: the file's, or met twice here
            if type(obj) is ServicePoint:
                self.know([obj.region])
            self.run.record(line, obj)

    def know(self, codes: Iterable[str]) -> None:
        """Give the run the regions of `codes` it does not hold, with the townships above the
        villages among them, from the store (the new version's places: `write` came first), as
        checked."""
        facts = self.run.region_facts
        wanted: set[str] = set()
        for code in codes:
            township = REGION_LENGTH["township"]
            for implied in (code, code[:township]) if len(code) > township else (code,):
                if implied not in facts and implied not in self.asked:
                    wanted.add(implied)
        if not wanted:
            return
        self.asked.update(wanted)
        ordered = sorted(wanted)
        r = RecordRow.__table__
        for start in range(0, len(ordered), BATCH):
            for line, region in self._held(r.c.kind == "region", r.c.key.in_(ordered[start : start + BATCH])):
                self.run.checked.add(region.code)  # type: ignore[union-attr]
                self.run.record(line, region)

    def _held(self, *where: Any) -> list[tuple[int | None, Region | ServicePoint]]:
        """The newest places that match, with their lines in this file (else in the last)."""
        r: Any = RecordRow.__table__
        s = self.stage
        query = sa.select(r.c.kind, r.c.body, r.c.line).where(r.c.valid_to.is_(None), *where)
        if self.stage_name:
            query = query.with_only_columns(
                r.c.kind, r.c.body, sa.func.coalesce(s.c.line, r.c.line)
            ).select_from(r.outerjoin(s, sa.and_(s.c.kind == r.c.kind, s.c.key == r.c.key)))
        return [
            (line, (region_decoder if kind == "region" else point_decoder).decode(body))
            for kind, body, line in self.conn.execute(query)
        ]
