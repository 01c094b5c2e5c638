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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .findings import Conformity, Finding, Report, Summary, about, finding
from .load import DECODE_ERRORS, gc_paused, schema_finding, without_bom
from .model import (
    KIND,
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
from .rules.implementations import ImplementationRules, ItemFacts, RegionFacts, proof_findings, unknown_refs
from .rules.items import item_findings
from .rules.regions import region_findings
from .rules.service_points import service_point_findings
from .rules.situations import when_ref_findings
from .rules.strings import control_finding
from .wording import duplicate_message

Progress = Callable[[int], None]
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
    run = Run(keep=False)
    with open(path, "rb") as fh:
        run.stream(fh, progress)
    return run.finish()


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


def validate_for_publish(lines: Iterable[bytes]) -> tuple[Catalog, Report]:
    """Validate a stream for a publish, which loads the implementations itself: they are not
    kept, and DUPLICATE among them is left to the publish, which sees every key at once in the
    database (a set of millions of codes would not fit the publish's memory)."""
    run = Run(keep=False, dedupe=False)
    run.stream(lines, None)
    return run.catalog, run.finish()


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
    if b"\\" in raw:  # a control character can only come in escaped
        obj = control_finding(obj, number) or obj  # type: ignore[arg-type]
    return obj


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
    ) -> None:
        self.keep = keep
        self.dedupe = dedupe
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
        self.impl_codes: set[str] = set()
        """Every implementation code seen, for DUPLICATE (a set: a dict of lines costs 3x as much at scale)."""
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
        numbered: Iterator[tuple[int, bytes]] = enumerate(
            without_bom(lines if progress is None else _reporting(lines, progress)), 1
        )
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
                    if b"\\" in raw:
                        obj = control_finding(obj, number) or obj  # type: ignore[arg-type]
                self.first_line = number
                other(number, obj)
                break
            for number, raw in numbered:
                try:
                    obj = decode(raw)
                except DECODE_ERRORS as exc:
                    if not raw.strip():
                        continue
                    obj = schema_finding(number, raw, exc)
                else:
                    if b"\\" in raw:  # a control character can only come in escaped
                        obj = control_finding(obj, number) or obj  # type: ignore[arg-type]
                if type(obj) is Implementation:
                    implementation(number, obj)
                else:
                    other(number, obj)

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
        table[key] = record
        if line is not None:
            lines[key] = line
        if type(record) is Item:
            self.item_facts[key] = ItemFacts(record)
        elif type(record) is Region:
            self.region_facts[key] = RegionFacts(record)
        elif type(record) is Field:
            self.findings.extend(field_findings(record, line))

    def _implementation_path(self) -> Callable[[int | None, Implementation], None]:
        """The per-implementation step, a closure over its tables: this runs a million times
        for a national catalog, and locals are cheaper than attribute look-ups."""
        codes = self.impl_codes
        add_code = codes.add
        item_facts = self.item_facts.get
        region_facts = self.region_facts.get
        check = self.rules.check
        findings = self.findings
        pending = self.pending.append
        keep = self.keep
        dedupe = self.dedupe
        kept = self.catalog.implementations
        kept_lines = self.catalog.lines["implementation"]

        def implementation(line: int | None, impl: Implementation) -> None:
            code = impl.code
            if dedupe:
                if code in codes:
                    # Streaming keeps no line per implementation (a million of them): no "first on line N".
                    findings.append(_duplicate("implementation", code, line, None))
                    return
                add_code(code)
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
            if check(impl, line, facts, where, findings):
                where.conforming += 1

        return implementation

    # -- the end: whole-catalog rules -------------------------------------------------------

    def finish(self) -> Report:
        c = self.catalog
        out = self.findings
        if self.header_line is None and not self.header_checked:
            out.extend(header_findings(PLACEHOLDER, self.first_line))
        broken = {kind: frozenset(keys) for kind, keys in self.broken.items()}
        none: frozenset[str] = frozenset()
        lines = c.lines
        for code, region in c.regions.items():
            out.extend(region_findings(region, lines["region"].get(code), c, broken.get("region", none)))
        for code, item in c.items.items():
            out.extend(item_findings(item, lines["item"].get(code), c, broken))

        implemented = {code for code, facts in self.item_facts.items() if facts.implemented}
        unplaced: dict[str, list[int]] = {}
        """region -> [implementations, conforming] for regions the catalog does not define"""
        for line, impl in self.pending:
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
            implemented.add(impl.item)
            conforms = self.rules.check(impl, line, facts, where, out)
            if where is not None:
                where.implementations += 1
                where.conforming += conforms
            else:
                counts = unplaced.setdefault(impl.region, [0, 0])
                counts[0] += 1
                counts[1] += conforms
        self.pending.clear()

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
        errors = sum(1 for f in out if f.severity == "error")
        totals = {
            code: (w.implementations, w.conforming)
            for code, w in self.region_facts.items()
            if w.implementations
        }
        totals.update((code, (n, ok)) for code, (n, ok) in unplaced.items())
        conformity = [Conformity(code, n, ok) for code, (n, ok) in sorted(totals.items())]
        return Report(
            findings=out, conformity=conformity, summary=Summary(errors=errors, warnings=len(out) - errors)
        )


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
