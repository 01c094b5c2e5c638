"""The lifecycle's API bodies (§6): versions, diffs, the needs-review queue, submissions held
for approval, the audit. Plain Structs, as `api.schemas`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar.params import Parameter
from msgspec import Meta, Struct

from .schemas import FREE_TEXT, FindingOut

ID = Parameter(ge=1, le=2_147_483_647)
"""A version or submission number in a path."""
Note = Annotated[str, Meta(max_length=2000)]
Reason = Annotated[str, Meta(min_length=1, max_length=2000, pattern=FREE_TEXT)]


class VersionOut(Struct):
    version: int
    published_at: str
    by: str
    note: str
    region: str | None
    added: int
    changed: int
    removed: int


class VersionList(Struct):
    versions: list[VersionOut]
    """Oldest first."""


class DiffEntry(Struct, omit_defaults=True):
    kind: str
    key: str
    change: Literal["added", "removed", "changed"]
    fields: dict[str, list[Any]] | None = None
    """For a changed record: {field: [old, new]}."""


class DiffCounts(Struct):
    added: int
    removed: int
    changed: int


class DiffPage(Struct, rename={"old": "from", "new": "to"}):
    """What changed from one version to another (§6), one page of records at a time: per kind
    (as the store orders them) the added, removed and changed records by key."""

    old: int
    new: int
    total: int
    limit: int
    offset: int
    counts: dict[str, DiffCounts]
    """Per kind."""
    entries: list[DiffEntry]
    next: str | None = None
    """The next page's `after` (a full page's last record; None after a shorter one): what the
    database finds by key, where `offset` counts every record before it again."""


class FlagOut(Struct):
    kind: str
    key: str
    region: str | None
    findings: list[FindingOut]
    cause: dict[str, Any]
    """`{"item": code, "changed": {field: [old, new]}}` (or a region's), `{}` when unknown."""


class ReviewPage(Struct):
    version: int
    total: int
    limit: int
    offset: int
    needs_review: list[FlagOut]


class SubmissionOut(Struct):
    id: int
    region: str | None
    """None: a whole catalog."""
    by: str
    submitted_at: datetime
    note: str
    state: Literal["pending", "approved", "rejected"]
    size: int
    based_on: int
    """The version it was checked against (-1: refused, checked against none)."""
    refused: bool
    """Publishing it now would be refused (`findings` are the touched records' errors)."""
    added: int
    changed: int
    removed: int
    needs_review: int
    errors: int
    warnings: int
    findings: list[FindingOut]
    """At most 1000."""
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    version: int | None = None
    """The version its approval published."""


class SubmissionList(Struct):
    total: int
    limit: int
    offset: int
    submissions: list[SubmissionOut]
    """Newest first; `findings` left empty (read one submission for them)."""


class Rejection(Struct, forbid_unknown_fields=True):
    reason: Reason


class AuditOut(Struct):
    id: int
    at: datetime
    by: str
    action: str
    target: str
    detail: dict[str, Any]


class AuditPage(Struct):
    total: int
    limit: int
    offset: int
    events: list[AuditOut]
    """Newest first."""
