"""Publishing over a published version: read, write and validate only what changed.

1. Scan (no database): each implementation line is recognised by its prefix and keyed by
   its code and the digest of its bytes, without being decoded; the small records are
   decoded and checked as usual. Lines the store already holds byte for byte are settled.
2. One transaction: the (code, digest) pairs go to a temporary table; the database says
   which lines are new or different (candidates) and which implementations are gone.
   Candidates are read again from the file, decoded and compared with the stored record
   (a reformatted line is unchanged); what really changed is validated, closed and written.
   Implementations that depend on a changed item or region — or all of them, when the
   material dictionary or the questions change what a reference may name — are validated
   again from the store. The findings of everything else carry over from the previous
   version; per-item counts and conformity are recounted where something moved.

So a national file with a thousand changes costs one pass of digests plus a thousand
decodes, and a county's submission the county's rows: never the whole catalog again.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ... import scratch
from ...apart import Apart
from ...digest import place_rows, stage_rows
from ...findings import FOUR_SAME_RULES, Conformity, Finding, finding
from ...load import BOM, gc_paused
from ...model import KIND, Catalog, Header, Implementation, Region, ServicePoint, key_of
from ...rules.graph import orphan_findings
from ...validate import PROGRESS_EVERY, Run, decode_line
from ...wording import named, spaced
from .. import reads
from ..figures import RegionDeltas, figures_of, recount_items
from ..reads import _among, implementation_decoder
from ..schema import (
    IMPLEMENTATION_COLUMNS,
    ConformityRow,
    FindingRow,
    ImplementationRow,
    ItemCountRow,
    code_level,
)
from . import places as places_
from .bulk import BulkLoader, duplicates, index_stage, postgres, temp_table
from .places import PlaceRows, Places
from .rule import Touched, flag, touched_errors
from .writes import (
    Finish,
    Published,
    Refused,
    bundle_decoder,
    digest,
    phase,
    take_catalog,
    transaction,
    write_bundles,
    write_findings,
    write_small,
    write_version,
)

BATCH = 2000
IMPL = ImplementationRow.__tablename__
STRUCTURAL = frozenset({"material", "question"})
"""Kinds whose keys implementations name in their requirements: adding or removing one can
change any implementation's findings (UNKNOWN_REF), so every implementation is checked again."""


def scan(
    path: str | Path,
    stage: BulkLoader,
    progress: Callable[[int], None] | None,
    scope: tuple[str, frozenset[str]] | None = None,
    places: PlaceRows | None = None,
) -> tuple[Run, list[Finding]]:
    """Phase 1: the validation run fed with the small records, (code, digest, offset, length,
    line) of every implementation line loaded into `stage` — and of a whole file, (kind, key,
    digest, offset, length, line) of every region and service point line into `places` —, and
    the SCOPE findings of a partial submission (`scope`: its region and the codes of its
    subtree): what it may not hold — any record but the header and the subtree's
    implementations. A large whole file is digested by processes of their own (`apart`) while
    this one loads the stages."""
    run = Run(keep=False, dedupe=False)
    strays: list[Finding] = []

    def read(number: int, at: int, length: int) -> object:
        """A line that is not digested, decoded here; an implementation or a place goes to its
        stage at once (where it stands in the file does not matter), any other record is
        returned to be checked in file order."""
        fh.seek(at)
        raw = fh.read(length)
        obj = decode_line(number, raw)
        if type(obj) is Implementation and (scope is None or obj.region in scope[1]):
            stage.add_many(stage_rows([(obj.code, raw, at, number)], stage.pg), 1)
            return None
        if places is not None and type(obj) in (Region, ServicePoint):
            key = key_of(obj)  # type: ignore[arg-type]
            assert key is not None
            places.add_many(place_rows([(KIND[type(obj)], key, raw, at, number)], places.pg))
            return None
        return obj

    def check(number: int, obj: object) -> None:
        if obj is None:  # a blank line, or an implementation staged
            return
        if scope is not None and type(obj) not in (Header, Finding):
            strays.append(_stray(scope[0], number, obj))
        else:
            run.line(number, obj)

    # Parts of a large file are digested at once; the stage takes their rows as they come, and
    # the other records are checked in file order (a part's wait until the parts before it end).
    parts = min(4, os.cpu_count() or 1) if scope is None else 1
    mode = ("pg" if stage.pg else "sqlite", "fast" if scope is None else "")
    current, seen = 0, 0
    done: set[int] = set()
    waiting: dict[int, list[tuple[int, object]]] = {}
    with open(path, "rb") as fh, gc_paused(), Apart(path, "digest", *mode, parts=parts) as frames:
        run.first_line = _first_line(fh)
        for part, frame in frames:
            if frame is None:
                done.add(part)
                while current in done:
                    current += 1
                    for number, obj in waiting.pop(current, ()):
                        check(number, obj)
                continue
            if frame[0] == "places":  # digested regions' and service points' lines
                assert places is not None
                places.add_many(frame[2])
                seen += frame[1]
                continue
            if frame[0] == "rows":  # digested implementation lines: rows of the stage
                stage.add_many(frame[4], frame[3])
                seen += frame[3]
                if progress is not None and seen // PROGRESS_EVERY > (seen - frame[3]) // PROGRESS_EVERY:
                    progress(seen)
                continue
            number = frame[1]
            obj = read(*frame[1:])
            seen += 1
            if part == current:
                check(number, obj)
            elif obj is not None:
                waiting.setdefault(part, []).append((number, obj))
    if progress is not None:
        progress(seen)
    return run, strays


def _first_line(fh: BinaryIO) -> int | None:
    """The number of the file's first line that is not blank (where the header must be)."""
    for number, raw in enumerate(fh, 1):
        if (raw.removeprefix(BOM) if number == 1 else raw).strip():
            return number
    return None


def _stray(region: str, line: int, record: object) -> Finding:
    kind = KIND.get(type(record), "unknown")
    key = key_of(record) if type(record) in KIND else None  # type: ignore[arg-type]
    return finding(
        "SCOPE",
        kind,
        key,
        line,
        f"区划 {region} 的提交只能包含文件头以及本区划和下级区划的实施清单，"
        f"{spaced(named(kind, key, getattr(record, 'name', None)))}不在其中。",
    )


class _Changes:
    """What the implementation diff found, for the recounts."""

    def __init__(self) -> None:
        self.processed: set[str] = set()
        """Codes validated again (changed, new, dependents): their old findings do not carry."""
        self.items: dict[str, int] = {}
        """item -> change in its implementation count"""
        self.regions: set[str] = set()
        """regions whose conformity must be counted again"""
        self.inserted = 0
        self.replaced = 0
        self.new = 0
        """Lines whose code no held implementation has."""
        self.figures = RegionDeltas()
        """What the rows written and closed add to and take from their regions' counts."""
        self.listed: set[str] = set()
        """Items an implementation was added to, removed from or moved within (another region or
        material list): their material lists are counted again."""


def publish_changes(
    engine: Engine,
    path: str | Path,
    *,
    by: str,
    note: str,
    progress: Callable[[int], None] | None,
    lock_timeout: float,
    region: str | None = None,
    source: int | None = None,
    take_bundles: bool = False,
    finish: Finish | None = None,
) -> Published:
    """A whole file, or (`region`) a partial one: the header and the implementations of the
    region's subtree, which it replaces; the rest comes from the newest version."""
    scope = None if region is None else (region, _subtree(engine, region))
    with (
        tempfile.TemporaryDirectory(prefix="publish-", dir=scratch.folder()) as tmp,
        transaction(engine, lock_timeout, finish=finish) as conn,
    ):
        candidates_path = Path(tmp) / "candidates"
        # Scanning loads the stage (a temporary table: no lock on anything shared yet).
        stage = temp_table(conn, "onething_scan", "code text, hash text, off bigint, len int, line int")
        place_stage, place_rows = places_.stage(conn) if scope is None else (None, None)
        with phase("scanning"):
            loader = BulkLoader(conn, stage, ("code", "hash", "off", "len", "line"))
            try:
                run, strays = scan(path, loader, progress, scope, place_rows)
            finally:
                loader.close()
            if place_stage is not None and place_rows is not None:
                place_rows.load(conn, place_stage)
        own = strays + [f for f in run.findings if f.rule in ("SCHEMA", "HEADER")]
        if own:
            raise Refused(own)
        with open(path, "rb") as lines:
            with phase("comparing: the keys given twice"):
                found = [] if index_stage(conn, stage) else duplicates(conn, stage)
                places = Places(conn, place_stage, run)
                if scope is None:
                    found.extend(places.refused())
                else:
                    found.extend(_taken_elsewhere(conn, stage, scope[1]))
                if found:
                    raise Refused(found)
            version = take_catalog(conn)
            touched = Touched()
            if scope is None:
                with phase("comparing: the small records"):
                    small = write_small(conn, run.catalog, version, touched)
                with phase("comparing: the places"):
                    placed = places.write(version, lines, touched)
                    small = (small[0] + placed[0], small[1] + placed[1], small[2] + placed[2])
                    places.start(touched)
            else:  # the rest of the catalog is the newest version's
                small = (0, 0, 0)
                _known(run, reads.dictionaries_around(conn, version - 1, *scope), reads.bundles(conn))
            structural = any(kind in STRUCTURAL for kind, _ in touched.small | touched.removed)
            with phase("comparing: the candidates"):
                _candidates(conn, stage, candidates_path, loader.count)
            changes = _Changes()
            with phase("writing"):
                held = _held(conn, version - 1, None if scope is None else scope[1])
                _write_candidates(conn, version, run, lines, candidates_path, changes, places)
                # Every line kept or replaced one of the held implementations, or is new: what is
                # left over was removed. Only then is the stage compared with all of them.
                removed = 0
                if held > loader.count - changes.new:
                    removed = _remove(conn, stage, version, changes, None if scope is None else scope[1])
                if postgres(conn) and changes.inserted + removed > max(held, 1) // 10:
                    conn.exec_driver_sql(f"ANALYZE {IMPL}")  # much moved: plans need new statistics
                bundles = (
                    (0, 0, [])
                    if scope is not None
                    else write_bundles(conn, run.catalog, touched, take=take_bundles)
                )
            with phase("validating: dependents"):
                _dependents(conn, stage, version, run, touched, structural, changes, places)
            with phase("validating: the run's end"):
                report = run.finish()
            with phase("validating: the rest"):
                per_item = _per_item(conn, version, changes)
                findings = [f for f in report.findings if f.rule != "ORPHAN_ITEM"]
                if not structural:
                    findings.extend(_carried(conn, stage, version, changes.processed))
                catalog = run.catalog
                implemented = {item for item, n in per_item.items() if n}
                findings.extend(orphan_findings(catalog.items, catalog.lines.get("item", {}), implemented))
                findings.sort(key=lambda f: (f.line or 0, f.rule, f.kind, f.key or "", f.message))
                write_findings(conn, catalog, findings, version)
                errors = [f for f in findings if f.severity == "error"]
                needs_review = 0
                if errors:
                    refused = touched_errors(conn, version, errors, touched)
                    if refused:
                        raise Refused(refused)
                    needs_review = flag(conn, version, touched)
                conformity = _conformity(conn, version, changes, structural)
            with phase("figures"):
                _figures(conn, version, catalog, touched, changes, places)
            added = small[0] + bundles[0] + changes.inserted - changes.replaced
            changed = small[1] + bundles[1] + changes.replaced
            with phase("the version's row"):
                return write_version(
                    conn,
                    version,
                    by=by,
                    note=note,
                    region=region,
                    source=source,
                    counts=(added, changed, small[2] + removed),
                    needs_review=needs_review,
                    findings=findings,
                    conformity=conformity,
                    per_item=per_item,
                    kept=bundles[2],
                )


def _candidates(conn: Connection, stage: str, out: Path, lines: int) -> None:
    """Lines the store does not hold byte for byte, in file order, to a local file (there may be
    millions when much changed: memory stays bounded). A server-side cursor only for a big
    stage: PostgreSQL plans a cursor for its first rows, which for a county's few hundred
    lines would be a scan of every implementation instead of a look-up of each."""
    options = {"stream_results": True, "yield_per": 20_000} if lines > 50_000 else {}
    rows = conn.exec_driver_sql(
        f"SELECT s.code, s.off, s.len, s.line FROM {stage} s WHERE NOT EXISTS (SELECT 1 FROM {IMPL} i "
        f"WHERE i.code = s.code AND i.hash = s.hash AND i.valid_to IS NULL) ORDER BY s.off",
        execution_options=options,
    )
    with open(out, "wb", buffering=1 << 20) as fh:
        fh.writelines(
            msgspec.json.encode((code, off, length, line)) + b"\n" for code, off, length, line in rows
        )


def _batches(path: Path) -> Iterator[list[tuple[str, int, int, int]]]:
    batch: list[tuple[str, int, int, int]] = []
    with open(path, "rb") as fh:
        for raw in fh:
            batch.append(tuple(msgspec.json.decode(raw)))  # type: ignore[arg-type]
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _write_candidates(
    conn: Connection, version: int, run: Run, source: BinaryIO, path: Path, changes: _Changes, places: Places
) -> None:
    """Decode each candidate; what really changed is validated (the run given its region
    first), its old row closed and the new one written. A line that decodes to the record the
    store holds is left as it is."""
    t = ImplementationRow
    validate = run.implementation
    findings = run.findings
    for batch in _batches(path):
        decoded = []
        for code, off, length, line in batch:
            source.seek(off)
            raw = source.read(length)
            decoded.append((code, line, raw, decode_line(line, raw)))
        places.know({obj.region for *_, obj in decoded if type(obj) is Implementation})
        current = {
            code: (body, item, region)
            for code, body, item, region in conn.execute(
                sa.select(t.code, t.body, t.item, t.region).where(
                    t.code.in_([c for c, *_ in batch]), t.valid_to.is_(None)
                )
            )
        }
        new: list[tuple[str, str, Implementation, int, bytes]] = []
        closing: list[str] = []
        for code, line, raw, obj in decoded:
            if not isinstance(obj, Implementation):
                if isinstance(obj, Finding):  # SCHEMA: the line is the submission's own
                    findings.append(obj)
                continue
            old = current.get(code)
            if old is None:
                changes.new += 1
                changes.listed.add(obj.item)
            else:
                before = implementation_decoder.decode(old[0])
                if before == obj:
                    continue  # the same record, written differently
                closing.append(code)
                changes.figures.add(before, before.region, -1)
                if (before.item, before.region, before.materials) != (obj.item, obj.region, obj.materials):
                    changes.listed.update((before.item, obj.item))
                changes.items[old[1]] = changes.items.get(old[1], 0) - 1
                changes.regions.add(old[2])
            validate(line, obj)
            changes.processed.add(code)
            changes.items[obj.item] = changes.items.get(obj.item, 0) + 1
            changes.regions.add(obj.region)
            changes.figures.add(obj, obj.region)
            new.append((code, digest(raw), obj, line, raw))
        if closing:
            conn.execute(
                sa.update(t).where(t.code.in_(closing), t.valid_to.is_(None)).values(valid_to=version)
            )
            changes.replaced += len(closing)
        if new:
            loader = BulkLoader(conn, IMPL, IMPLEMENTATION_COLUMNS)
            for code, hashed, obj, line, raw in new:
                loader.add(
                    version, code, hashed, obj.item, obj.region, code_level(code), line, loader.text(raw)
                )
            changes.inserted += loader.close()


def _held(conn: Connection, version: int, within: frozenset[str] | None) -> int:
    """How many implementations `version` holds (in the subtree `within`)."""
    if within is None:
        return reads.version_row(conn, version).implementations  # type: ignore[no-any-return]
    t = ImplementationRow
    return conn.execute(
        sa.select(sa.func.count()).where(t.valid_to.is_(None), t.region.in_(sorted(within)))
    ).scalar_one()


def _remove(
    conn: Connection, stage: str, version: int, changes: _Changes, within: frozenset[str] | None
) -> int:
    """Close the implementations the submission no longer has (in the subtree `within`, for a
    partial one)."""
    t: Any = ImplementationRow.__table__
    s = sa.table(stage.split(".")[-1], sa.column("code"))
    query = (
        sa.update(t)
        .where(t.c.valid_to.is_(None), ~sa.exists().where(s.c.code == t.c.code))
        .values(valid_to=version)
        .returning(t.c.item, t.c.region, t.c.body)
    )
    if within is not None:
        query = query.where(t.c.region.in_(sorted(within)))
    gone = conn.execute(query).all()
    for item, region, body in gone:
        changes.items[item] = changes.items.get(item, 0) - 1
        changes.regions.add(region)
        changes.figures.add(figures_of(body), region, -1)
        changes.listed.add(item)
    return len(gone)


def _dependents(
    conn: Connection,
    stage: str,
    version: int,
    run: Run,
    touched: Touched,
    structural: bool,
    changes: _Changes,
    places: Places,
) -> None:
    """Validate again the unchanged implementations whose item or region changed (all of them
    when `structural`), with the lines they have in this file (the run given their regions
    first)."""
    items = sorted({key for kind, key in touched.small | touched.removed if kind == "item"})
    regions = sorted({key for kind, key in touched.small | touched.removed if kind == "region"})
    if not structural and not items and not regions:
        return
    t = ImplementationRow.__table__
    s = sa.table(stage.split(".")[-1], sa.column("code"), sa.column("line"))
    query = (
        sa.select(t.c.code, t.c.body, t.c.region, s.c.line)
        .join(s, s.c.code == t.c.code)
        .where(t.c.valid_to.is_(None), t.c.valid_from < version)
    )
    if not structural:
        query = query.where(sa.or_(t.c.item.in_(items), t.c.region.in_(regions)))
    validate = run.implementation
    decode = implementation_decoder.decode
    rows = conn.execute(query, execution_options={"stream_results": True, "yield_per": 20_000})
    for part in rows.partitions():
        places.know({region for _, _, region, _ in part})
        for code, body, region, line in part:
            validate(line, decode(body))
            changes.regions.add(region)
            if not structural:
                changes.processed.add(code)


def _per_item(conn: Connection, version: int, changes: _Changes) -> dict[str, int]:
    t = ItemCountRow
    counts = dict(conn.execute(sa.select(t.item, t.implementations).where(t.version == version - 1)).all())
    for item, delta in changes.items.items():
        counts[item] = counts.get(item, 0) + delta
    return {item: n for item, n in counts.items() if n > 0}


def _carried(conn: Connection, stage: str, version: int, processed: set[str]) -> list[Finding]:
    """The previous version's findings on implementations still there and not validated again,
    with the lines they have in this file (or had, for a partial one that does not hold them)."""
    t = ImplementationRow.__table__
    f = FindingRow.__table__
    s = sa.table(stage.split(".")[-1], sa.column("code"), sa.column("line"))
    rows = conn.execute(
        sa.select(
            f.c.rule, f.c.severity, f.c.kind, f.c.key, sa.func.coalesce(s.c.line, f.c.line), f.c.message
        )
        .select_from(f.outerjoin(s, s.c.code == f.c.key))
        .where(
            f.c.version == version - 1,
            f.c.kind == "implementation",
            sa.exists().where(t.c.code == f.c.key, t.c.valid_to.is_(None)),
        )
        .order_by(f.c.seq)
    ).all()
    return [Finding(*row) for row in rows if row[3] not in processed]


def _subtree(engine: Engine, region: str) -> frozenset[str]:
    """The region and every region under it, in the newest version."""
    with engine.connect() as conn:
        within = reads.region_subtree(conn, reads.heads(conn)[0], region)
    if not within:
        raise Refused([finding("SCOPE", "region", region, None, f"目录中没有区划 {region}。")])
    return within


def _taken_elsewhere(conn: Connection, stage: str, within: frozenset[str]) -> list[Finding]:
    """DUPLICATE for a code the partial submission gives that an implementation outside its
    subtree already has."""
    t = ImplementationRow.__table__
    s = sa.table(stage.split(".")[-1], sa.column("code"), sa.column("line"))
    rows = conn.execute(
        sa.select(s.c.code, s.c.line, t.c.region).join(t, t.c.code == s.c.code).where(t.c.valid_to.is_(None))
    )
    return [
        finding(
            "DUPLICATE",
            "implementation",
            code,
            line,
            f"实施编码 {code} 已属于区划 {region} 的实施清单，一个编码只能对应一条实施清单。",
        )
        for code, line, region in rows
        if region not in within
    ]


def _known(run: Run, catalog: Catalog, bundles: list[tuple[str, str, int, int | None]]) -> None:
    """Feed the newest version's small records and the stored bundles to the run: what a partial
    submission's implementations are checked against."""
    for table in (catalog.regions, catalog.materials, catalog.fields, catalog.questions, catalog.items):
        for key, record in table.items():
            run.record(catalog.line_of(KIND[type(record)], key), record)
    for _, body, _, line in bundles:
        run.record(line, bundle_decoder.decode(body))


def _figures(
    conn: Connection, version: int, catalog: Catalog, touched: Touched, changes: _Changes, places: Places
) -> None:
    """The regions' counts moved by what was written and closed; the material lists counted again
    of the items whose implementations came, went or moved to another region or list, or whose
    own list changed — of every item, when the region tree changed (the run's catalog given
    first every region those implementations stand in: the recount rolls them up)."""
    changes.figures.write(conn, version)
    small = touched.small | touched.removed
    items: set[str] | None = changes.listed | {key for kind, key in small if kind == "item"}
    if any(kind == "region" for kind, _ in small):
        items = None
    elif not items:
        return
    t = ImplementationRow
    stand_in = sa.select(t.region).where(t.valid_to.is_(None)).distinct()
    if items is None:
        places.know(region for (region,) in conn.execute(stand_in))
    else:
        for among in _among(t.item, items):
            places.know(region for (region,) in conn.execute(stand_in.where(among)))
    recount_items(conn, version, catalog, items)


def _conformity(conn: Connection, version: int, changes: _Changes, everywhere: bool) -> list[Conformity]:
    """The previous version's conformity, counted again in the regions where something moved."""
    c = ConformityRow
    previous = {
        region: Conformity(region, n, ok)
        for region, n, ok in conn.execute(
            sa.select(c.region, c.implementations, c.conforming).where(c.version == version - 1)
        )
    }
    t = ImplementationRow
    f = FindingRow
    within = sa.and_(t.valid_from <= version, sa.or_(t.valid_to.is_(None), t.valid_to > version))
    count = sa.select(t.region, sa.func.count()).where(within).group_by(t.region)
    bad = (
        sa.select(f.region, sa.func.count(sa.distinct(f.key)))
        .where(f.version == version, f.kind == "implementation", f.rule.in_(FOUR_SAME_RULES))
        .group_by(f.region)
    )
    if not everywhere:
        regions = sorted(changes.regions)
        if not regions:
            return sorted(previous.values(), key=lambda x: x.region)
        count = count.where(t.region.in_(regions))
        bad = bad.where(f.region.in_(regions))
        for region in regions:
            previous.pop(region, None)
    else:
        previous.clear()
    nonconforming = dict(conn.execute(bad).all())
    for region, n in conn.execute(count):
        previous[region] = Conformity(region, n, n - nonconforming.get(region, 0))
    return sorted(previous.values(), key=lambda x: x.region)
