"""What the API reads and writes: plain msgspec Structs, so the OpenAPI schema is the code.

Catalog records (`catalog.model`) are returned as they are where a client wants
the record itself (an item, an implementation); these Structs are the API's own
shapes around them: pages of results, views that put records side by side,
inputs that a designer or an admin sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from bundler.document import BundleProblem, Check, CheckName
from casework.model import AnswerIn, Applicant, EventIn, HandIn, RatingIn  # noqa: F401 (cases' bodies: api.openapi)
from catalog.findings import Conformity, Report
from catalog.model import Agency, Bundle, Implementation, Item, Level, Requirement

# The roles `POST /tokens` gives (catalog.words.ROLES less `agency`: an agency token names its
# agency by USCC, which only `onething token create --agency` takes).
Role = Literal["portal", "designer", "reviewer", "admin"]

# Text a client sends: never a control character (PostgreSQL refuses NUL; the rest has no
# place in a name), tab and newline only in free text; every string has a length limit.
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
FREE_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
CODE = r"^[!-~]+$"
"""Codes are visible ASCII (their exact shapes are the validator's: §2 of the format)."""

BundleId = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
ItemCode = Annotated[str, Meta(min_length=1, max_length=32, pattern=CODE)]
RegionCode = Annotated[str, Meta(min_length=1, max_length=16, pattern=CODE)]
Name = Annotated[str, Meta(min_length=1, max_length=500, pattern=ONE_LINE)]
Description = Annotated[str, Meta(max_length=5000, pattern=FREE_TEXT)]
TokenName = Annotated[str, Meta(min_length=1, max_length=200, pattern=ONE_LINE)]


# -- health and summary ---------------------------------------------------------------
class CatalogSummary(Struct):
    version: str
    title: str
    regions: int
    materials: int
    fields: int
    items: int
    implementations: int
    bundles: int


class Health(Struct):
    status: Literal["ok", "degraded"]
    revision: int
    database: Literal["ok", "unavailable"]
    cache: Literal["memory", "redis", "unavailable"]
    catalog: CatalogSummary | None
    broker: Literal["connected", "not configured", "down"] = "not configured"
    """NATS (§7.2 push) as this instance's relay finds it; optional, so never a reason for 503
    (tasks wait in the outbox): "not configured" without ONETHING_NATS_URL, or when this instance
    runs no relay (ONETHING_NATS_RELAY=0)."""


# -- regions ------------------------------------------------------------------------
class RegionNode(Struct):
    code: str
    name: str
    level: Level
    children: list[RegionNode] = []


class RegionTree(Struct):
    roots: list[RegionNode]
    count: int


class RegionEntry(Struct):
    """A region in a page of regions: its children counted, not listed."""

    code: str
    name: str
    level: Level
    parent: str | None
    children: int


class RegionPage(Struct):
    """One page of the regions of a level or under a parent, by code."""

    total: int
    limit: int
    regions: list[RegionEntry]
    next: str | None = None
    """The next page's `after` (None: this page is the last)."""


class RegionOut(Struct):
    code: str
    name: str
    level: Level
    parent: str | None
    path: list[str]
    """Codes from the region up to 000000: where its items are looked for, in order."""
    children: list[str]


class EffectiveItem(Struct):
    """An item as an applicant in the region meets it: resolved to the nearest implementing level."""

    item: str
    name: str
    type: str
    implementation: str
    region: str
    level: Level
    agency: Agency
    promised_days: int
    visits: int
    online_depth: int
    fee: float


class EffectiveItemPage(Struct):
    region: str
    total: int
    limit: int
    offset: int
    items: list[EffectiveItem]


# -- items --------------------------------------------------------------------------
class ItemSummary(Struct):
    code: str
    name: str
    type: str
    owner: str
    main: str | None
    levels: list[Level]
    statutory_days: int
    implementations: int


class ItemPage(Struct):
    total: int
    limit: int
    offset: int
    items: list[ItemSummary]


class ImplementationView(Struct):
    """One implementation beside its item: what it keeps and what it changes."""

    implementation: Implementation
    region_name: str
    level: Level
    requirements: list[Requirement]
    """Its effective requirements (the item's when it lists none)."""
    findings: list[FindingOut]
    """What the validator says about this implementation (四同, 只减不增, time limits…)."""


class ItemDetail(Struct):
    item: Item
    total: int
    """How many implementations the item has; `implementations` is one page of them."""
    limit: int
    offset: int
    implementations: list[ImplementationView]


# -- bundles ------------------------------------------------------------------------
Window = Annotated[str, Meta(max_length=200, pattern=ONE_LINE)]
TargetDays = Annotated[int, Meta(ge=0, le=3650)]
Conditions = Annotated[
    dict[
        ItemCode,
        Annotated[dict[ItemCode, Annotated[list[ItemCode], Meta(max_length=50)]], Meta(max_length=20)],
    ],
    Meta(max_length=200),
]
"""`when` of §1's bundle: for an item of the bundle, the answers (question → answers) under which
it is part of the case; every question must match."""


class BundleCreate(Struct, forbid_unknown_fields=True):
    id: BundleId
    name: Name
    items: Annotated[list[ItemCode], Meta(max_length=200)]
    description: Description = ""
    regions: Annotated[list[RegionCode], Meta(max_length=200)] | None = None
    """Where it is offered: these regions and those under them; none: everywhere. A region-scoped
    designer must name regions within its own."""
    window: Window = ""
    """The one comprehensive window (一窗受理) that takes the whole case."""
    target_days: TargetDays | None = None
    """The days the bundle promises for the whole case (§4.1 checks it)."""
    when: Conditions = {}


class BundleReplace(Struct, forbid_unknown_fields=True):
    """The whole bundle: a field left out takes its default (PUT replaces)."""

    name: Name
    items: Annotated[list[ItemCode], Meta(max_length=200)]
    description: Description = ""
    regions: Annotated[list[RegionCode], Meta(max_length=200)] | None = None
    """Where it is offered: these regions and those under them; none: everywhere. A region-scoped
    designer must name regions within its own."""
    window: Window = ""
    target_days: TargetDays | None = None
    when: Conditions = {}


class BundleOut(Struct):
    id: str
    name: str
    items: list[str]
    description: str
    version: int
    regions: list[str] | None = None
    window: str = ""
    target_days: int | None = None
    when: dict[str, dict[str, list[str]]] = {}


class BundleList(Struct):
    bundles: list[BundleOut]


class WorkflowRequest(Struct, forbid_unknown_fields=True):
    items: Annotated[list[ItemCode], Meta(min_length=1, max_length=200)]
    region: RegionCode
    answers: Annotated[
        dict[
            Annotated[str, Meta(max_length=200, pattern=ONE_LINE)],
            Annotated[str, Meta(max_length=200, pattern=ONE_LINE)],
        ],
        Meta(
            max_length=100,
            description="the applicant's situation (§4 step 0): question id → answer id; "
            "unanswered questions stay open",
        ),
    ] = {}


# -- validation ---------------------------------------------------------------------
class FindingOut(Struct, omit_defaults=True):
    rule: str
    severity: Literal["error", "warning"]
    kind: str
    key: str | None
    line: int | None
    message: str
    sheet: str | None = None
    """For a region's sheet: the worksheet, row, column letter and header label it is at."""
    row: int | None = None
    column: str | None = None
    label: str | None = None


class ConformityOut(Struct):
    region: str
    implementations: int
    conforming: int
    rate: float
    """conforming / implementations (1.0 for a region without implementations)."""


class SummaryOut(Struct):
    errors: int
    warnings: int


class ValidationReport(Struct):
    revision: int | None
    """The store revision validated (None for an upload)."""
    catalog_version: str | None
    summary: SummaryOut
    """Counts over the whole report, before filtering."""
    total: int
    """Findings that pass the filters."""
    findings: list[FindingOut]
    conformity: list[ConformityOut]


class KeptBundleOut(Struct):
    id: str
    name: str
    message: str
    """Why the file's record of this bundle was not taken (in Chinese)."""


class PublishResult(Struct):
    revision: int
    """The version published."""
    added: int
    changed: int
    removed: int
    catalog: CatalogSummary
    summary: SummaryOut
    findings: list[FindingOut]
    """Warnings (a publish with errors is refused)."""
    needs_review: int = 0
    """Untouched records with error findings, published flagged for review (§6)."""
    kept_bundles: list[KeptBundleOut] = []
    """Bundles of the file not taken: designers edited or deleted them through the API since a file
    last wrote them (`take_bundles=true` takes the file's records instead). One warning each."""


# -- tokens -------------------------------------------------------------------------
class TokenCreate(Struct, forbid_unknown_fields=True):
    name: TokenName
    role: Role
    region: RegionCode | None = None
    """Act only within this region and those under it (not for admin)."""


class TokenCreated(Struct):
    name: str
    role: Role
    region: str | None
    token: str
    """The secret, shown this once: only its hash is kept."""


class TokenInfo(Struct):
    name: str
    role: str
    region: str | None
    created_at: datetime


class TokenList(Struct):
    tokens: list[TokenInfo]


class Revoked(Struct):
    name: str
    revoked: int


# -- bundle checks (§4.1) -------------------------------------------------------------
class BundleChecks(Struct):
    """A bundle's §4.1 checks in one region: the names of those that fail."""

    failed: list[CheckName]


class BundleHere(Struct):
    """A bundle offered in the asked region and composable there."""

    id: str
    name: str
    items: list[str]
    description: str
    version: int
    checks: BundleChecks


class BundleUnavailable(Struct):
    """A bundle offered in the asked region that cannot be composed there (§4's error)."""

    id: str
    name: str
    version: int
    error: str
    message: str
    items: list[str]


class BundlesHere(Struct):
    """`GET /bundles?region=`: the bundles offered in the region (a bundle's `regions`, each with
    everything under it; none: everywhere)."""

    region: str
    bundles: list[BundleHere]
    """Composable there, each with its failed checks there (no answers given)."""
    unavailable: list[BundleUnavailable]
    """Offered there but not composable (e.g. NOT_IMPLEMENTED): not for applicants, for reviewers."""


class CheckRow(Struct):
    """One bundle in one region where it is offered: its failed checks, or why it cannot be composed."""

    bundle: str
    region: str
    failed: list[Check]
    error: BundleProblem | None


class BundleChecksSummary(Struct):
    bundle: str
    name: str
    regions: int
    """Regions where the bundle is offered (within the `region` filter)."""
    passing: int
    """Of those, regions where it composes and passes every check."""
    failed: dict[str, int]
    """Check → regions where it fails."""
    errors: dict[str, int]
    """Bundling error → regions where the bundle cannot be composed."""


class ChecksReport(Struct):
    """The bundle checks report (§4.1) for reviewers: every bundle × every region where it is
    offered, in the situation where nothing is answered yet."""

    revision: int
    catalog_version: str
    summary: list[BundleChecksSummary]
    """Per bundle, over the regions the filters keep (the `check` filter aside)."""
    total: int
    """Rows the filters keep; `rows` is one page of them."""
    limit: int
    offset: int
    rows: list[CheckRow]


class ErrorDetail(Struct, omit_defaults=True):
    """One thing at fault: a request field (`field`, `source`) or a catalog record (`kind`, `key`,
    `line`); in a region's sheet also its place: `sheet` (the worksheet), `row`, `column` (its
    letter), and `field` the column's header label."""

    message: str
    field: str | None = None
    source: str | None = None
    rule: str | None = None
    severity: str | None = None
    kind: str | None = None
    key: str | None = None
    line: int | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    question: str | None = None
    material: str | None = None
    requirement: str | None = None
    reason: str | None = None
    """Cases (§7): what is at fault (`question`, `field`, `material`) and why, in Chinese."""


# -- from the core's records to these shapes ------------------------------------------------
def finding_out(f: Any) -> FindingOut:
    return FindingOut(
        rule=f.rule,
        severity=f.severity,
        kind=f.kind,
        key=f.key,
        line=f.line,
        message=f.message,
        sheet=getattr(f, "sheet", None),
        row=getattr(f, "row", None),
        column=getattr(f, "column", None),
        label=getattr(f, "label", None),
    )


def conformity_out(rows: Sequence[Conformity]) -> list[ConformityOut]:
    return [
        ConformityOut(
            region=c.region,
            implementations=c.implementations,
            conforming=c.conforming,
            rate=1.0 if c.implementations == 0 else round(c.conforming / c.implementations, 4),
        )
        for c in rows
    ]


def bundle_of(bundle_id: str, data: BundleCreate | BundleReplace) -> Bundle:
    """A designer's bundle as §1's record."""
    return Bundle(
        id=bundle_id,
        name=data.name,
        items=list(data.items),
        description=data.description,
        regions=data.regions,
        window=data.window,
        target_days=data.target_days,
        when=data.when,
    )


def bundle_out(bundle: Bundle, version: int) -> BundleOut:
    return BundleOut(
        id=bundle.id,
        name=bundle.name,
        items=list(bundle.items),
        description=bundle.description,
        version=version,
        regions=None if bundle.regions is None else list(bundle.regions),
        window=bundle.window,
        target_days=bundle.target_days,
        when=bundle.when,
    )


def report_view(
    report: Report, *, rule: str | None, severity: str | None, limit: int, offset: int
) -> ValidationReport:
    """An uploaded file's report (not published) as a reviewer asks for it: filtered, one page."""
    findings = report.findings
    if rule:
        findings = [f for f in findings if f.rule == rule]
    if severity:
        findings = [f for f in findings if f.severity == severity]
    return ValidationReport(
        revision=None,
        catalog_version=None,
        summary=SummaryOut(errors=report.summary.errors, warnings=report.summary.warnings),
        total=len(findings),
        findings=[finding_out(f) for f in findings[offset : offset + limit]],
        conformity=conformity_out(report.conformity),
    )


def findings_as_errors(findings: Sequence[Any]) -> list[ErrorDetail]:
    """Findings as a problem's `errors` (a sheet's with their worksheet, row, column and label)."""
    return [
        ErrorDetail(
            message=f.message,
            rule=f.rule,
            severity=f.severity,
            kind=f.kind,
            key=f.key,
            line=f.line,
            field=getattr(f, "label", None),
            sheet=getattr(f, "sheet", None),
            row=getattr(f, "row", None),
            column=getattr(f, "column", None),
        )
        for f in findings
    ]
