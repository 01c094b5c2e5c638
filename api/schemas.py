"""What the API reads and writes: plain msgspec Structs, so the OpenAPI schema is the code.

Catalog records (`catalog.model`) are returned as they are where a client wants
the record itself (an item, an implementation); these Structs are the API's own
shapes around them: pages of results, views that put records side by side,
inputs that a designer or an admin sends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from catalog.model import Agency, Implementation, Item, Level, Requirement

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


# -- regions ------------------------------------------------------------------------
class RegionNode(Struct):
    code: str
    name: str
    level: Level
    children: list[RegionNode] = []


class RegionTree(Struct):
    roots: list[RegionNode]
    count: int


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
class BundleCreate(Struct, forbid_unknown_fields=True):
    id: BundleId
    name: Name
    items: Annotated[list[ItemCode], Meta(max_length=200)]
    description: Description = ""


class BundleReplace(Struct, forbid_unknown_fields=True):
    name: Name
    items: Annotated[list[ItemCode], Meta(max_length=200)]
    description: Description = ""


class BundleOut(Struct):
    id: str
    name: str
    items: list[str]
    description: str
    version: int


class BundleList(Struct):
    bundles: list[BundleOut]


class WorkflowRequest(Struct, forbid_unknown_fields=True):
    items: Annotated[list[ItemCode], Meta(min_length=1, max_length=200)]
    region: RegionCode


# -- validation ---------------------------------------------------------------------
class FindingOut(Struct):
    rule: str
    severity: Literal["error", "warning"]
    kind: str
    key: str | None
    line: int | None
    message: str


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


# -- tokens -------------------------------------------------------------------------
class TokenCreate(Struct, forbid_unknown_fields=True):
    name: TokenName
    role: Role


class TokenCreated(Struct):
    name: str
    role: Role
    token: str
    """The secret, shown this once: only its hash is kept."""


class TokenInfo(Struct):
    name: str
    role: str
    created_at: datetime


class TokenList(Struct):
    tokens: list[TokenInfo]


class Revoked(Struct):
    name: str
    revoked: int
