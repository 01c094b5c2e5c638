"""One validation engine (§3) for a file streamed by, a file loaded whole, and a catalog in memory.

Records are checked as they arrive. Implementations — the millions — are
checked on the spot against the regions and items seen so far and then let go
unless the caller keeps them; only compact facts stay (their codes for
DUPLICATE, the implemented item codes, per-region conformity counters). An
implementation whose item or region comes later in the file waits until the
end. Everything that needs the whole catalog (references, cycles, orphans)
runs once at the end, over the small tables.
"""

from __future__ import annotations

import io
import pickle
import tempfile
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import nullcontext
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any, Self, Union

import msgspec

from . import scratch
from .codes import COUNTY_DIGITS
from .findings import Conformity, Finding, Report, Summary, about, finding
from .load import BOM, DECODE_ERRORS, gc_paused, schema_finding
from .model import (
    KIND,
    Agency,
    Bundle,
    Catalog,
    Field,
    Header,
    Implementation,
    Item,
    Material,
    Question,
    Region,
    ServicePoint,
    key_of,
    record_decoder,
    record_encoder,
)
from .rules.bundles import bundle_rules
from .rules.fields import field_findings
from .rules.graph import cycle_findings, orphan_findings
from .rules.header import header_findings
from .rules.implementations import (
    MAX_SPELLINGS,
    AgencyFacts,
    ImplementationRules,
    ItemFacts,
    RegionFacts,
    proof_findings,
    unknown_refs,
)
from .rules.items import item_findings
from .rules.regions import region_findings
from .rules.service_points import service_point_findings
from .rules.situations import when_ref_findings
from .rules.strings import control_finding
from .stats import Counts, Figured, Tally
from .wording import duplicate_message

Progress = Callable[[int], None]
Divert = Callable[[int, bytes, str], None]
"""Takes a line set aside: its number, its bytes, the region its record stands in."""
ROLLED_CHUNK = 20_000
"""Item figure rows a publish's validation sends at a time (`validate_for_publish`)."""
BACKSLASH = 0x5C
"""The byte `\\`: `BACKSLASH in line` searches for one byte, 7x quicker than for a bytes object."""
PROGRESS_EVERY = 1 << 17
"""Lines between two progress calls."""


def validate(catalog: Catalog) -> Report:
    """Validate a catalog already in memory (lines from `catalog.lines`, None where a record has none)."""
    run = Run(keep=False)
    run.header(catalog.header, catalog.line_of("catalog", None))
    encode = record_encoder.encode
    for kind, table in (
        ("region", catalog.regions),
        ("material", catalog.materials),
        ("field", catalog.fields),
        ("question", catalog.questions),
        ("item", catalog.items),
        ("bundle", catalog.bundles),
        ("service_point", catalog.service_points),
        ("implementation", catalog.implementations),
    ):
        lines = catalog.lines.get(kind, {})
        for key, record in table.items():
            line = lines.get(key)
            if b"\\" in encode(record):  # as in a file: a control character comes escaped
                bad = control_finding(record, line)
                if bad is not None:
                    run.line(line or 0, bad)
                    continue
            run.record(line, record)
    return run.finish()


def validate_file(path: str | Path, progress: Progress | None = None) -> Report:
    """Stream-validate a catalog file without holding its implementations.

    Raises OSError when the file cannot be opened. `progress`, if given, is
    called with the line number reached every PROGRESS_EVERY lines.
    """
    with gc_paused():  # the run's containers go by reference counting before the collector sees them
        run = Run(keep=False, points=False)
        with open(path, "rb") as fh:
            run.stream(fh, progress)
        report = run.finish()
        del run
    return report


def load_file(path: str | Path, progress: Progress | None = None) -> tuple[Catalog, Report]:
    """The whole catalog in memory and its full report. Raises OSError when the file cannot be opened."""
    run = Run(keep=True)
    with open(path, "rb") as fh:
        run.stream(fh, progress)
    return run.catalog, run.finish()


def load_bytes(data: bytes) -> tuple[Catalog, Report]:
    """As `load_file`, from the bytes of a catalog (an upload)."""
    run = Run(keep=True)
    run.stream(io.BytesIO(data), None)  # split into lines exactly as a file is
    return run.catalog, run.finish()


def validate_for_publish(
    lines: Iterable[bytes], below: IO[bytes] | None = None, counties: int = 1
) -> tuple[Catalog, Report, Figured | None]:
    """Validate a stream for a publish, which loads the implementations itself: they are not
    kept, and DUPLICATE among them is left to the publish, which sees every key at once in the
    database (a set of millions of codes would not fit the publish's memory). The statistics'
    figures are counted on the way (`stats.Tally`: the lines are decoded here anyway), None
    when an error refuses the publish.

    The catalog comes back without its regions and service points, which the publish writes
    from the file as it reads it: at five levels there are half a million of each, and sending
    them to the publishing process would hold them twice. (Every finding about a region or a
    service point is an error, which refuses a first publish: nothing written needs them.)

    With `below`, the records below the county — half a million townships' and villages' and
    their points and implementations at five levels — are set aside as the stream meets them
    (in `counties` scratch files, a county always in the same one) and checked a file at a
    time afterwards (`Run.county`), so that the run holds one file's worth of them, not them
    all. Their regions' conformity and own statistics counts are not in the report and the
    figures returned: each file's are pickled to `below`, `("county", conformity, own counts)`,
    for the publish to write; and so are the item figures, `("rolled", rows)` a few thousand
    rows at a time (`Tally.rolled_rows`), half a million of them at national scale."""
    with Spool(counties) if below is not None else nullcontext() as spool:
        run = Run(
            keep=False, dedupe=False, points=False, tally=Tally(), divert=None if spool is None else spool.add
        )
        run.stream(lines, None)
        if spool is not None:
            assert below is not None
            keep = run.named_regions()
            for county in spool.counties():
                pickle.dump(("county", *run.county(county, keep)), below, protocol=pickle.HIGHEST_PROTOCOL)
    report = run.finish()
    catalog = run.catalog
    tally = run.tally
    assert tally is not None
    figured = None
    if not report.summary.errors and below is None:
        figured = tally.figured(catalog.regions, catalog.items)
    elif below is not None and not report.summary.errors:
        figured = Figured(own=tally.own(catalog.regions), rolled={})
        rows = tally.rolled_rows(catalog.regions, catalog.items)
        while chunk := list(islice(rows, ROLLED_CHUNK)):
            pickle.dump(("rolled", chunk), below, protocol=pickle.HIGHEST_PROTOCOL)
    catalog.regions = {}
    catalog.service_points = {}
    catalog.lines.pop("region", None)
    catalog.lines.pop("service_point", None)
    return catalog, report, figured


def sent_apart(below: IO[bytes]) -> Iterator[tuple[Any, ...]]:
    """What `validate_for_publish` pickled to `below`, from the start, message by message."""
    below.seek(0)
    while True:
        try:
            yield pickle.load(below)
        except EOFError:
            return


class Spool:
    """Lines set aside in a few scratch files by the county their record stands in (the first
    six digits of its region code): a county's lines are in one file, in file order."""

    def __init__(self, files: int) -> None:
        self.files = [
            tempfile.TemporaryFile(dir=scratch.folder(), buffering=1 << 16)  # noqa: SIM115 - closed by __exit__
            for _ in range(max(1, files))
        ]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for f in self.files:
            f.close()

    def add(self, number: int, raw: bytes, region: str) -> None:
        f = self.files[zlib.crc32(region[:COUNTY_DIGITS].encode()) % len(self.files)]
        f.write(b"%d\t" % number)
        f.write(raw if raw.endswith(b"\n") else raw + b"\n")

    def counties(self) -> Iterator[Iterator[tuple[int, bytes]]]:
        """Each file's lines, numbered as in the file they came from."""
        for f in self.files:
            f.seek(0)
            yield ((int(number), raw) for number, raw in (line.split(b"\t", 1) for line in f))


def _below(record: object) -> str | None:
    """The region a record below the county stands in (a township, a village); None for the
    rest."""
    if type(record) is Region:
        code = record.code
    elif type(record) is ServicePoint:
        code = record.region
    else:
        return None
    return code if len(code) > COUNTY_DIGITS else None


def bundle_findings(bundle: Bundle, catalog: Catalog) -> list[Finding]:
    """SCHEMA (control characters), BUNDLE and UNKNOWN_REF for one bundle, e.g. a designer's
    before it is saved."""
    line = catalog.line_of("bundle", bundle.id)
    bad = control_finding(bundle, line)
    return ([] if bad is None else [bad]) + bundle_rules(bundle, line, catalog)


def decode_line(number: int, raw: bytes) -> object | None:
    """One line as `Run.stream` reads it: its record, a SCHEMA finding, or None when blank."""
    try:
        obj: object = record_decoder.decode(raw)
    except DECODE_ERRORS as exc:
        if not raw.strip():
            return None
        return schema_finding(number, raw, exc)
    if BACKSLASH in raw:  # a control character can only come in escaped
        obj = control_finding(obj, number) or obj  # type: ignore[arg-type]
    return obj


RAW_FIELDS = ("agency", "basis", "materials", "name", "window")
"""The fields of an implementation row kept as the JSON they are (`_row_type`)."""
agency_decoder = msgspec.json.Decoder(Agency)
window_decoder = msgspec.json.Decoder(
    next(f.type for f in msgspec.structs.fields(Implementation) if f.name == "window")
)


def _row_type() -> Any:
    """`Implementation` with its agency, basis, materials, name and window left as the JSON
    they are (every other field decoded and constrained alike, from the same definitions): a
    stream that keeps no implementation compares those bytes with spellings already found good
    instead of building them (a spelling never seen is decoded). Non-ASCII text is what a
    decode pays most for, and these fields hold most of it."""
    fields: list[Any] = []
    for f in msgspec.structs.fields(Implementation):
        kind = msgspec.Raw if f.name in RAW_FIELDS else f.type
        if f.default is not msgspec.NODEFAULT:
            fields.append((f.name, kind, msgspec.Raw() if kind is msgspec.Raw else f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, f.type, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, kind))
    return msgspec.defstruct(
        "ImplementationRow",
        fields,
        tag="implementation",
        tag_field="kind",
        forbid_unknown_fields=True,
        frozen=True,
        gc=False,
    )


ImplementationRow = _row_type()
row_decoder = msgspec.json.Decoder(
    Union[tuple(ImplementationRow if t is Implementation else t for t in KIND)]  # noqa: UP007
)
"""`record_decoder` with implementations as `ImplementationRow`."""

NO_ENDS: set[str] = set()
"""The codes an agency implements, for a run that leaves DUPLICATE to the publish: none, shared
by the hundred thousand agencies of a five-level catalog (nothing is ever added)."""

SEEN_ONCE = AgencyFacts(NO_ENDS)
"""What `_agency` says of a clean agency seen for the first time by a run without dedupe: good,
its spelling not learnt (it stays empty)."""

PLACEHOLDER = Header(format="", version="")
"""The header of a catalog whose file has none (reported as HEADER)."""


class Run:
    """One validation: the catalog known so far, the findings so far, the compact facts.

    Fed a whole stream (`stream`), or record by record (`line` for a decoded line in file
    order — it keeps the header rules —, `implementation`), then `finish` for the rules that
    need everything. A publish that revalidates only what changed feeds it that way."""

    def __init__(
        self,
        keep: bool,
        *,
        dedupe: bool = True,
        points: bool = True,
        tally: Tally | None = None,
        divert: Divert | None = None,
    ) -> None:
        """`points`: False when the caller wants the report only, not the service points (a run
        then holds a point whose references it knows already as a stub: `_stub`). `tally`:
        counts every implementation row of a stream that keeps none. `divert`: takes the lines
        of a stream that keeps none whose record stands below the county (a township's or a
        village's), to be fed back a county at a time (`county`)."""
        self.divert = divert
        self.checked: set[str] = set()
        """Regions whose own findings are known already, which `finish` does not check again:
        below the county, checked and kept by `county` (a bundle or an item names them); a
        republish's, given unchanged from the store (`publish.places`)."""
        self.keep = keep
        self.dedupe = dedupe
        self.points = points
        self.tally = tally
        # a kind's lines appear when a record of it does (a catalog without revision-3 records has
        # the lines a revision-2 one had)
        self.catalog = Catalog(
            header=PLACEHOLDER, lines={kind: {} for kind in KIND.values() if kind != "service_point"}
        )
        c = self.catalog
        self.tables: dict[type, dict] = {
            Region: c.regions,
            Material: c.materials,
            Field: c.fields,
            Question: c.questions,
            Item: c.items,
            Bundle: c.bundles,
            ServicePoint: c.service_points,
        }
        self.findings: list[Finding] = []
        self.broken: dict[str, set[str]] = {}
        """kind -> keys of records that failed to decode: referring to them is not UNKNOWN_REF."""
        self.impl_codes: dict[str, set[str]] = {}
        """Every implementation code seen, for DUPLICATE, split after its 18th character: the
        agency's code -> the ends (level digit and item code). A stream adds the end string
        `ItemFacts.at` holds, one per item and level, so that a code costs a set entry rather
        than a string of its own (a dict of lines would cost 3x as much again)."""
        self.agencies: dict[str, AgencyFacts] = {}
        """Clean agency codes as a stream sees them."""
        self.seen_once: set[str] = set()
        """Clean agency codes seen once, not yet in `agencies` (a run without dedupe)."""
        self.item_facts: dict[str, ItemFacts] = {}
        self.region_facts: dict[str, RegionFacts] = {}
        """Per region: its level digit and its conformity counters."""
        self.pending: list[tuple[int | None, Implementation]] = []
        self.rules = ImplementationRules(c.materials)
        self.header_line: int | None = None
        """Where the header (or a header that failed to decode) was; None until one is seen."""
        self.first_line: int | None = None
        self.header_checked = False
        self.implementation = self._implementation_path()

    # -- the stream: decoding, and the rules of position (HEADER first and once) -----------

    def stream(self, lines: Iterable[bytes], progress: Progress | None) -> None:
        """Decode and check line by line. The loop is the hot path of a national catalog,
        so it decodes inline rather than through `catalog.load.read_lines` (same results)."""
        decode = record_decoder.decode
        numbered = _numbered(lines if progress is None else _reporting(lines, progress))
        implementation = self.implementation
        other = self.line
        with gc_paused():
            for number, raw in numbered:  # up to the first non-blank line, which must be the header
                try:
                    obj: object = decode(raw)
                except DECODE_ERRORS as exc:
                    if not raw.strip():
                        continue
                    obj = schema_finding(number, raw, exc)
                else:
                    if BACKSLASH in raw:
                        obj = control_finding(obj, number) or obj  # type: ignore[arg-type]
                self.first_line = number
                other(number, obj)
                break
            if not self.keep:
                self._rows(numbered)
                return
            for number, raw in numbered:
                try:
                    obj = decode(raw)
                except DECODE_ERRORS as exc:
                    if not raw.strip():
                        continue
                    obj = schema_finding(number, raw, exc)
                else:
                    if BACKSLASH in raw:  # a control character can only come in escaped
                        obj = control_finding(obj, number) or obj  # type: ignore[arg-type]
                if type(obj) is Implementation:
                    implementation(number, obj)
                else:
                    other(number, obj)

    def _rows(self, numbered: Iterator[tuple[int, bytes]]) -> None:
        """The loop of `stream` for a run that keeps no implementation: a row that holds
        everything by what is settled already is counted without more; any other line is
        decoded whole and checked as `stream` does (a failed row decode too, so that SCHEMA
        says what the whole decode says), and what it settles is learnt (`_learn`).

        Settled means: a clean agency spelt as one seen (USCC; its code is the implementation
        code's first 18 characters), the item's name, basis and a quiet material list spelt as
        seen (FOUR_SAME_*, MATERIAL_ADDED, PROOF_DEMANDED), a place that allows the item and the
        code's end it fixes (LEVEL, SCOPE, IMPL_CODE: `ItemFacts.at`), the item's type and
        statutory days, no longer promise (TIME_LIMIT), no visit when wholly online
        (ONLINE_VISITS), a window spelt as one seen here, a new code (DUPLICATE) and no
        backslash (SCHEMA, control characters). That is `ImplementationRules.holds` and the
        comparisons before it, inline: this runs a million times. A new place, agency or window
        is settled on the spot (`ItemFacts.code_end`, `_agency`, `_window`)."""
        lean = row_decoder.decode
        implementation = self.implementation
        other = self.line
        learn = self._learn
        new_agency = self._agency
        new_window = self._window
        row_type = ImplementationRow
        items = self.item_facts
        regions = self.region_facts
        agencies = self.agencies.get
        dedupe = self.dedupe
        tally = None if self.tally is None else self.tally.add
        divert = self.divert
        for number, raw in numbered:
            try:
                row: Any = lean(raw)
            except DECODE_ERRORS:
                if not raw.strip():
                    continue
                row = None
            if type(row) is row_type:
                if divert is not None and len(row.region) > COUNTY_DIGITS:
                    divert(number, raw, row.region)
                    continue
                if tally is not None:
                    tally(row)
            if type(row) is row_type and BACKSLASH not in raw:
                code = row.code
                try:
                    facts = items[row.item]
                    where = regions[row.region]
                except KeyError:
                    pass  # a forward reference: the whole check
                else:
                    agency = agencies(code[:18])
                    if agency is None or row.agency not in agency.spellings:
                        agency = new_agency(row.agency, code[:18])
                    end = facts.at.get(where.places[facts.scope]) or facts.code_end(where)
                    if (
                        agency is not None
                        and end is not None
                        and code[18:] == end
                        and end not in agency.ends  # empty without dedupe
                        and row.promised_days <= row.statutory_days == facts.days
                        and (row.online_depth != 4 or not row.visits)
                        and row.type == facts.type
                        and row.name in facts.name_raw
                        and row.basis in facts.basis_raw
                        and (row.materials in facts.quiet_raw if row.materials else facts.quiet_own)
                        and (row.window in where.windows or new_window(row.window, where))
                    ):
                        # the item counts as implemented already: the spellings compared were
                        # learnt from one of its implementations
                        if dedupe:
                            agency.ends.add(end)
                        where.passed += 1
                        continue
            elif row is not None and type(row) is not row_type:
                if divert is not None and (below := _below(row)) is not None:
                    divert(number, raw, below)
                    continue
                obj: object = row
                if BACKSLASH in raw:
                    obj = control_finding(row, number) or obj
                other(number, obj)
                continue
            obj = decode_line(number, raw)
            if obj is None:
                continue
            if type(obj) is Implementation:
                implementation(number, obj)
                if type(row) is row_type:
                    learn(row, obj)
            else:
                other(number, obj)

    def _agency(self, spelling: msgspec.Raw, uscc: str) -> AgencyFacts | None:
        """The facts of a clean agency code when an agency spelt anew has it (the spelling
        learnt), else None; for `_rows`."""
        try:
            agency = agency_decoder.decode(spelling)
        except DECODE_ERRORS:
            return None
        if agency.uscc != uscc or self.rules.agency_problem(uscc) is not None:
            return None
        facts = self._agency_facts(uscc)
        if facts is None:
            return SEEN_ONCE
        if len(facts.spellings) < MAX_SPELLINGS:
            facts.spellings.append(spelling.copy())
        return facts

    def _agency_facts(self, uscc: str) -> AgencyFacts | None:
        """The agency's facts; None the first time a run that leaves DUPLICATE to the publish
        sees the code (made the second time): at five levels most of the hundreds of thousands
        of agencies, a village's, implement one item, and would hold a spelling for nothing."""
        facts = self.agencies.get(uscc)
        if facts is None:
            if not self.dedupe and uscc not in self.seen_once:
                self.seen_once.add(uscc)
                return None
            ends = self.impl_codes.setdefault(uscc, set()) if self.dedupe else NO_ENDS
            facts = self.agencies[uscc] = AgencyFacts(ends)
        return facts

    @staticmethod
    def _window(spelling: msgspec.Raw, where: RegionFacts) -> bool:
        """True when a window spelt anew decodes (learnt), for `_rows`."""
        try:
            window_decoder.decode(spelling)
        except DECODE_ERRORS:
            return False
        where.learn_window(spelling)
        return True

    def _learn(self, row: Any, impl: Implementation) -> None:
        """Remember the spellings of `row` (an `ImplementationRow`) that its decoded and checked
        `impl` showed good, and the place it showed to allow its item, for `_rows`."""
        facts = self.item_facts.get(impl.item)
        if facts is None:
            return
        if (
            len(facts.basis_raw) < MAX_SPELLINGS
            and row.basis not in facts.basis_raw
            and impl.basis == facts.item.basis
        ):
            facts.basis_raw.append(row.basis.copy())  # a copy lets the line go
        if (
            len(facts.name_raw) < MAX_SPELLINGS
            and row.name not in facts.name_raw
            and impl.name == facts.item.name
        ):
            facts.name_raw.append(row.name.copy())
        m = row.materials
        if (
            m
            and len(facts.quiet_raw) < MAX_SPELLINGS
            and m not in facts.quiet_raw
            and (facts.quiet_own if impl.materials is None else impl.materials in facts.quiet)
        ):
            facts.quiet_raw.append(m.copy())
        uscc = impl.agency.uscc
        agency = self._agency_facts(uscc) if uscc in self.rules.clean_usccs else None
        if (
            agency is not None
            and len(agency.spellings) < MAX_SPELLINGS
            and row.agency not in agency.spellings
        ):
            agency.spellings.append(row.agency.copy())
        where = self.region_facts.get(impl.region)
        if where is not None:
            facts.code_end(where)
            if row.window not in where.windows:
                where.learn_window(row.window)

    def line(self, number: int, obj: object) -> None:
        if isinstance(obj, Finding):
            self.findings.append(obj)
            if obj.key is not None:
                self.broken.setdefault(obj.kind, set()).add(obj.key)
            if obj.kind == "catalog":
                self._header_position(number)
        elif isinstance(obj, Header):
            if self._header_position(number):
                self.header(obj, number)
        else:
            self.record(number, obj)  # type: ignore[arg-type]

    def _header_position(self, number: int) -> bool:
        """True when this header is the one to keep; a repeated or late header is HEADER."""
        say = about("catalog", None, number)
        if self.header_line is not None:
            self.findings.append(
                say(
                    "HEADER",
                    f"第 {number} 行重复了文件头（文件头已在第 {self.header_line} 行）。",
                )
            )
            return False
        self.header_line = number
        if number != self.first_line:
            self.findings.append(
                say(
                    "HEADER",
                    f"文件头在第 {number} 行，应为第一条记录（第 {self.first_line} 行在它之前）。",
                )
            )
        return True

    # -- the records ------------------------------------------------------------------------

    def header(self, header: Header, line: int | None) -> None:
        self.header_checked = True
        self.catalog.header = header
        if line is not None:
            self.catalog.lines["catalog"][""] = line
        self.findings.extend(header_findings(header, line))

    def record(
        self,
        line: int | None,
        record: Region | Material | Field | Question | Item | Bundle | ServicePoint | Implementation,
    ) -> None:
        if type(record) is Implementation:
            self.implementation(line, record)
            return
        kind = KIND[type(record)]
        key = key_of(record)
        assert key is not None
        table = self.tables[type(record)]
        lines = self.catalog.lines.setdefault(kind, {})
        if key in table:
            self.findings.append(
                _duplicate(kind, key, line, lines.get(key), getattr(table[key], "name", None))
            )
            return
        if type(record) is Region and record.parent in self.region_facts:
            # the parent's code as the parent holds it: one string for a township's villages
            record = msgspec.structs.replace(record, parent=self.region_facts[record.parent].region.code)
        elif type(record) is ServicePoint and not self.points and self._settled(record):
            record = _stub(record, self.region_facts.get(record.region))
        table[key] = record
        if line is not None:
            lines[key] = line
        if type(record) is Item:
            self.item_facts[key] = ItemFacts(record)
        elif type(record) is Region:
            self.region_facts[key] = RegionFacts(record)
        elif type(record) is Field:
            self.findings.extend(field_findings(record, line))

    def _settled(self, point: ServicePoint) -> bool:
        """True when every bundle and item the point refers to is defined already: no finding
        at the end can be about them (the catalog only grows)."""
        c = self.catalog
        return (
            all(i in c.items for i in point.assists)
            and all(b in c.bundles for w in point.windows for b in w.bundles)
            and all(i in c.items for w in point.windows for i in w.items)
        )

    def _implementation_path(self) -> Callable[[int | None, Implementation], None]:
        """The per-implementation step, a closure over its tables: this runs a million times
        for a national catalog, and locals are cheaper than attribute look-ups."""
        codes = self.impl_codes
        item_facts = self.item_facts.get
        region_facts = self.region_facts.get
        check = self.rules.check
        holds = self.rules.holds
        findings = self.findings
        pending = self.pending.append
        keep = self.keep
        dedupe = self.dedupe
        kept = self.catalog.implementations
        kept_lines = self.catalog.lines["implementation"]

        def implementation(line: int | None, impl: Implementation) -> None:
            code = impl.code
            if dedupe:
                ends = codes.get(code[:18])
                if ends is None:
                    ends = codes[code[:18]] = set()
                elif code[18:] in ends:
                    # Streaming keeps no line per implementation (a million of them): no "first on line N".
                    findings.append(_duplicate("implementation", code, line, None))
                    return
                ends.add(code[18:])
            if keep:
                kept[code] = impl
                if line is not None:
                    kept_lines[code] = line
            facts = item_facts(impl.item)
            where = region_facts(impl.region)
            if facts is None or where is None:
                pending((line, impl))  # a forward reference, settled at the end
                return
            facts.implemented = True
            where.implementations += 1
            materials = impl.materials
            if (
                (impl.name, impl.type, impl.basis, impl.statutory_days) == facts.same
                and (facts.quiet_own if materials is None else materials in facts.quiet)
                and holds(impl, facts, where)
            ) or check(impl, line, facts, where, findings):
                where.conforming += 1

        return implementation

    # -- the end: whole-catalog rules -------------------------------------------------------

    def finish(self) -> Report:
        c = self.catalog
        out = self.findings
        if self.header_line is None and not self.header_checked:
            out.extend(header_findings(PLACEHOLDER, self.first_line))
        broken = self._broken()
        none: frozenset[str] = frozenset()
        lines = c.lines
        for code, region in c.regions.items():
            if code not in self.checked:
                out.extend(region_findings(region, lines["region"].get(code), c, broken.get("region", none)))
        for code, item in c.items.items():
            out.extend(item_findings(item, lines["item"].get(code), c, broken))
        unplaced = self._settle_pending(0, broken)
        implemented = {code for code, facts in self.item_facts.items() if facts.implemented}

        broken_questions = broken.get("question", none)
        for line, code, when in self.rules.when_refs:
            out.extend(
                when_ref_findings(
                    "implementation",
                    code,
                    line,
                    f"实施清单 {code}",
                    when,
                    c.questions,
                    broken_questions,
                )
            )
        broken_materials = broken.get("material", none)
        for line, code, material in self.rules.material_refs:
            if material not in c.materials and material not in broken_materials:
                out.append(
                    finding(
                        "UNKNOWN_REF",
                        "implementation",
                        code,
                        line,
                        f"实施清单 {code}：材料“{material}”未在材料目录中定义。",
                    )
                )
        out.extend(proof_findings(self.rules.proof_refs, c.materials))
        self.rules.proof_refs.clear()
        out.extend(cycle_findings(c.items, lines["item"]))
        out.extend(orphan_findings(c.items, lines["item"], implemented))
        for key, bundle in c.bundles.items():
            out.extend(bundle_rules(bundle, lines["bundle"].get(key), c, broken))
        for key, point in c.service_points.items():
            out.extend(service_point_findings(point, lines.get("service_point", {}).get(key), c, broken))

        out.sort(key=lambda f: (f.line or 0, f.rule, f.kind, f.key or "", f.message))
        for w in self.region_facts.values():
            w.settle()
        errors = sum(1 for f in out if f.severity == "error")
        counted = self.region_facts  # half a million at five levels: no pair or tuple made per region
        conformity = [
            Conformity(code, w.implementations, w.conforming)
            for code in sorted(counted)
            if (w := counted[code]).implementations
        ]
        if unplaced:
            conformity.extend(Conformity(code, n, ok) for code, (n, ok) in unplaced.items())
            conformity.sort(key=lambda c: c.region)
        return Report(
            findings=out, conformity=conformity, summary=Summary(errors=errors, warnings=len(out) - errors)
        )

    def _broken(self) -> dict[str, frozenset[str]]:
        return {kind: frozenset(keys) for kind, keys in self.broken.items()}

    def _settle_pending(self, start: int, broken: dict[str, frozenset[str]]) -> dict[str, list[int]]:
        """The implementations waiting since `start` (a forward reference, or one to nothing):
        checked now, their findings added; returns region -> [implementations, conforming] for
        the regions the catalog does not define."""
        none: frozenset[str] = frozenset()
        out = self.findings
        unplaced: dict[str, list[int]] = {}
        for line, impl in self.pending[start:]:
            facts = self.item_facts.get(impl.item)
            where = self.region_facts.get(impl.region)
            out.extend(
                unknown_refs(
                    impl,
                    line,
                    None if facts is None else facts.item,
                    None if where is None else where.region,
                    broken.get("item", none),
                    broken.get("region", none),
                )
            )
            if facts is not None:
                facts.implemented = True
            conforms = self.rules.check(impl, line, facts, where, out)
            if where is not None:
                where.implementations += 1
                where.conforming += conforms
            else:
                counts = unplaced.setdefault(impl.region, [0, 0])
                counts[0] += 1
                counts[1] += conforms
        del self.pending[start:]
        return unplaced

    # -- below the county: a county at a time (a first publish at five levels) ----------------

    def county(
        self, numbered: Iterable[tuple[int, bytes]], keep: Collection[str]
    ) -> tuple[list[Conformity], dict[str, Counts]]:
        """One county's diverted lines (`divert`), in file order, after the whole stream: checked
        as the stream would have checked them, with every rule that needs them all (their
        regions' parents, their points' references, what waited for them), then let go — but
        the regions in `keep` (named by a bundle or an item) and the findings. Returns their
        regions' conformity and own statistics counts, which the run no longer holds.

        A county's records only refer to each other and to records above the county: a
        village's parent is its township, a township's its county (a parent elsewhere is
        REGION_PARENT whatever it is). One thing is not seen here: a service point id repeated
        in another county (the publish finds it writing them, `catalog_record`'s key)."""
        self.divert = None  # the stream is over
        c = self.catalog
        regions, points = len(c.regions), len(c.service_points)
        pending = len(self.pending)
        tallied = self.tally.mark() if self.tally is not None else 0
        self._rows(iter(numbered))
        broken = self._broken()
        none: frozenset[str] = frozenset()
        new_regions = list(islice(c.regions, regions, None))
        new_points = list(islice(c.service_points, points, None))
        region_lines = c.lines["region"]
        point_lines = c.lines.get("service_point", {})
        out = self.findings
        for code in new_regions:
            out.extend(
                region_findings(c.regions[code], region_lines.get(code), c, broken.get("region", none))
            )
        for key in new_points:
            out.extend(service_point_findings(c.service_points[key], point_lines.get(key), c, broken))
        unplaced = self._settle_pending(pending, broken)
        conformity = [Conformity(code, n, ok) for code, (n, ok) in unplaced.items()]
        own = self.tally.take(tallied, set(new_regions)) if self.tally is not None else {}
        for code in new_regions:
            facts = self.region_facts.pop(code)
            facts.settle()
            if facts.implementations:
                conformity.append(Conformity(code, facts.implementations, facts.conforming))
            if code in keep:
                self.checked.add(code)
            else:
                del c.regions[code]
                region_lines.pop(code, None)
        for key in new_points:
            del c.service_points[key]
            point_lines.pop(key, None)
        # what was learnt of the county's agencies goes too: a village committee is one agency
        # of half a million, each implementing a thing or two
        self.agencies.clear()
        self.seen_once.clear()
        self.rules.forget_agencies()
        return conformity, own

    def named_regions(self) -> set[str]:
        """The regions bundles are offered in and items are owned by (kept by `county`)."""
        c = self.catalog
        named = {item.owner for item in c.items.values()}
        named.update(r for bundle in c.bundles.values() for r in bundle.regions or ())
        return named


NOTHING: list = []
"""The windows and assists of every stub (`_stub`): never changed, the record being frozen."""


def _stub(point: ServicePoint, where: RegionFacts | None) -> ServicePoint:
    """What the end still asks of a settled service point (its region, and its name for a
    DUPLICATE), for a run that returns no points: at five levels there are half a million, each
    holding a dozen item codes of its own (a stub's empty lists are one, shared, and its region
    the code its region's record holds, `where`, when known)."""
    region = point.region if where is None else where.region.code
    return ServicePoint(point.id, point.name, region, "", "", "", None, NOTHING, NOTHING)


def _numbered(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """The lines numbered from 1, the first without a byte order mark (as `without_bom`, with
    no generator step per line)."""
    it = iter(lines)
    for first in it:
        return enumerate(chain((first.removeprefix(BOM),), it), 1)
    return enumerate((), 1)


def _reporting(lines: Iterable[bytes], progress: Progress) -> Iterator[bytes]:
    """Pass lines through, calling `progress` with the count every PROGRESS_EVERY lines and at
    the end."""
    number = 0
    for number, raw in enumerate(lines, 1):
        if not number % PROGRESS_EVERY:
            progress(number)
        yield raw
    progress(number)


def _duplicate(kind: str, key: str, line: int | None, first: int | None, name: str | None = None) -> Finding:
    return finding("DUPLICATE", kind, key, line, duplicate_message(kind, key, first, name))
