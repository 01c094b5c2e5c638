"""The tables of the versioned store.

A catalog is kept as a line of versions 1, 2, 3, … without copying what did not
change: each row of a record is valid from the version that wrote it up to (not
including) the version that replaced or removed it (`valid_to`, NULL while it is
current). A record's content is its canonical JSON encoding (`body`, decoded
straight into the model's Structs) with a content hash, so a publish compares
hashes and writes only what changed.

Implementations — the millions — have a table of their own with the columns
their indexed reads need (item, region); the small kinds (the header, regions,
materials, fields, items, questions) share one. Bundles are the designers' live
objects: one row each with an edit counter (`version`), outside the catalog's
versions. Two state rows order every write: row 1 holds the newest catalog
version, row 2 the bundles' revision; a writer takes them in that order.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..model import Region, ServicePoint

CATALOG_ROW = 1
BUNDLES_ROW = 2


class Base(DeclarativeBase):
    pass


class StateRow(Base):
    """The write counters: row 1 the newest catalog version, row 2 the bundles' revision."""

    __tablename__ = "onething_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    counter: Mapped[int] = mapped_column(default=0)


class VersionRow(Base):
    """One published version: who, when, why, and what it changed."""

    __tablename__ = "catalog_version"
    version: Mapped[int] = mapped_column(primary_key=True)
    published_at: Mapped[datetime]
    by: Mapped[str] = mapped_column(sa.String(200))
    note: Mapped[str] = mapped_column(sa.Text)
    region: Mapped[str | None] = mapped_column(sa.String(16))
    source: Mapped[int | None]
    """The version republished (`publish --version N`), else NULL."""
    added: Mapped[int]
    changed: Mapped[int]
    removed: Mapped[int]
    needs_review: Mapped[int] = mapped_column(default=0)
    implementations: Mapped[int]
    errors: Mapped[int]
    warnings: Mapped[int]
    tag: Mapped[str] = mapped_column(sa.String(40))
    """Random, unique to this version of this database: what shared caches key on."""


class RecordRow(Base):
    """A small record (header, region, material, field, item, question, service point) over its
    versions."""

    __tablename__ = "catalog_record"
    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    valid_from: Mapped[int] = mapped_column(primary_key=True)
    valid_to: Mapped[int | None] = mapped_column(index=True)
    hash: Mapped[str] = mapped_column(sa.String(32))
    line: Mapped[int | None]
    body: Mapped[str] = mapped_column(sa.Text)
    region: Mapped[str | None] = mapped_column(sa.String(16))
    """Where the record stands: a service point's region, a region's parent (else NULL). At five
    levels there are half a million of each: a village applicant's points are found through it."""


RECORD_REGION = sa.Index("ix_record_kind_region", RecordRow.kind, RecordRow.region)
CODE_LENGTH = sa.Index("ix_record_kind_length", RecordRow.kind, sa.func.length(RecordRow.key))
"""Regions by the length of their code: a worker reads those down to the county (6 digits)
without the half million below."""


def standing(record: object) -> str | None:
    """What `catalog_record.region` holds for a record: a service point's region, a region's parent."""
    if isinstance(record, ServicePoint):
        return record.region
    if isinstance(record, Region):
        return record.parent
    return None


CURRENT = sa.Index(
    "ix_impl_current", "code", "hash", "valid_to", sqlite_where=sa.text("valid_to IS NULL")
).ddl_if(dialect="sqlite")
"""What a republish asks of every line of its file — does the newest version hold this code with
these bytes? — answered from the index alone, on SQLite, which probes line by line (PostgreSQL
hash-joins the whole table instead, and would only pay to build it)."""


class ImplementationRow(Base):
    """An implementation over its versions, with the columns its indexed reads use."""

    __tablename__ = "catalog_implementation"
    code: Mapped[str] = mapped_column(sa.String(64))
    valid_from: Mapped[int]
    valid_to: Mapped[int | None]
    hash: Mapped[str] = mapped_column(sa.String(32))
    """Digest of `body`, the line as it was submitted (a line given again byte for byte is
    unchanged without being read; one that differs is compared by its decoded content)."""
    item: Mapped[str] = mapped_column(sa.String(32))
    region: Mapped[str] = mapped_column(sa.String(16))
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    """1 national … 6 village (`code_level`): the order an item's implementations are listed in."""
    line: Mapped[int | None]
    body: Mapped[str] = mapped_column(sa.Text)

    # The key is a unique index rather than a PRIMARY KEY constraint, so that the first publish
    # into an empty store can load millions of rows without it and build it once at the end.
    __table_args__ = (
        sa.Index("ux_impl_code", "code", "valid_from", unique=True),
        sa.Index("ix_impl_item_region", "item", "region"),
        sa.Index("ix_impl_region", "region"),
        CURRENT,
    )
    __mapper_args__ = {"primary_key": ["code", "valid_from"]}  # noqa: RUF012 - SQLAlchemy reads it once, at mapping


def implementation_indexes(dialect: str) -> list[sa.Index]:
    """The implementation table's indexes on this database, the unique key first."""
    table = ImplementationRow.__table__
    kept = [i for i in table.indexes if i is not CURRENT or dialect == "sqlite"]  # type: ignore[attr-defined]
    return sorted(kept, key=lambda i: (not i.unique, i.name or ""))


IMPLEMENTATION_COLUMNS = ("valid_from", "code", "hash", "item", "region", "level", "line", "body")
"""The column order of a bulk write (COPY on PostgreSQL, batched INSERT on SQLite)."""


def code_level(code: str) -> int:
    """An implementation's level as its code spells it (the digit after the agency's 18
    characters: 1 national … 6 village); a code without one is listed with the counties."""
    digit = code[18:19]
    return int(digit) if digit and digit in "123456" else 4


class FindingRow(Base):
    """A version's validation findings, computed once at publish."""

    __tablename__ = "catalog_finding"
    version: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(sa.String(32))
    severity: Mapped[str] = mapped_column(sa.String(8))
    kind: Mapped[str] = mapped_column(sa.String(16))
    key: Mapped[str | None] = mapped_column(sa.String(200))
    line: Mapped[int | None]
    message: Mapped[str] = mapped_column(sa.Text)
    region: Mapped[str | None] = mapped_column(sa.String(16))
    """The region the finding is about (an implementation's, a region's own, an item's owner)."""
    item: Mapped[str | None] = mapped_column(sa.String(32))
    """The item the finding is about (an item's own, an implementation's item)."""

    __table_args__ = (
        sa.Index("ix_finding_rule", "version", "rule"),
        sa.Index("ix_finding_key", "version", "kind", "key"),
        sa.Index("ix_finding_region", "version", "region"),
        sa.Index("ix_finding_item", "version", "item"),
    )


class ConformityRow(Base):
    """Per version and region: implementations, and how many hold all four 四同 rules."""

    __tablename__ = "catalog_conformity"
    version: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    implementations: Mapped[int]
    conforming: Mapped[int]


class ItemCountRow(Base):
    """Per version and item: how many implementations it has (for search results)."""

    __tablename__ = "catalog_item_count"
    version: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    implementations: Mapped[int]


class RegionFiguresRow(Base):
    """A region's own implementations counted as leaders' figures are (`catalog.stats.Counts`),
    over the versions the counts held: a publish closes the rows of the regions where something
    moved and writes their new counts, so statistics read counts, not implementations."""

    __tablename__ = "catalog_region_figures"
    region: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    valid_from: Mapped[int] = mapped_column(primary_key=True)
    valid_to: Mapped[int | None] = mapped_column(index=True)
    implementations: Mapped[int]
    fully_online: Mapped[int]
    at_most_one_visit: Mapped[int]
    no_visit: Mapped[int]
    at_once: Mapped[int]
    promised_days: Mapped[int] = mapped_column(sa.BigInteger)
    statutory_days: Mapped[int] = mapped_column(sa.BigInteger)
    mobile: Mapped[int]


class ItemFiguresRow(Base):
    """Per region with regions under it (`''`: the whole catalog) and item, over the versions it
    held: the implementations of the item in the region's subtree and how many distinct material
    lists they keep (无差别受理). A region with none under it is read from its implementations."""

    __tablename__ = "catalog_item_figures"
    region: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    item: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    valid_from: Mapped[int] = mapped_column(primary_key=True)
    valid_to: Mapped[int | None]
    implementations: Mapped[int]
    material_lists: Mapped[int]

    __table_args__ = (sa.Index("ix_item_figures_item", "item", "valid_to"),)


class BundleRow(Base):
    """A bundle as designers keep it: the record and its edit counter."""

    __tablename__ = "bundle"
    id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    body: Mapped[str] = mapped_column(sa.Text)
    version: Mapped[int]
    line: Mapped[int | None]
    """The line of the catalog file that last wrote the body; NULL when it was written through the
    API since: a file's record then does not replace it unless the publish asks for that."""


class BundleGoneRow(Base):
    """A bundle deleted through the API: a file's record of it does not bring it back unless the
    publish asks for that (`write_bundles`). Creating it again through the API clears the row."""

    __tablename__ = "bundle_gone"
    id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    deleted_at: Mapped[datetime]


class TokenRow(Base):
    """An API token, kept only as the SHA-256 of the secret (tokens are 256-bit random)."""

    __tablename__ = "api_token"
    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str]
    role: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime]
    region: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    """A region-scoped token acts only within that region's subtree (NULL: unscoped). A database
    made before this column gets it from migration 2 (`migrations`)."""
    agency: Mapped[str | None] = mapped_column(sa.String(18), default=None)
    """Role `agency`: the USCC of the one agency whose tasks it reads and acts on (§7.2)."""


class PageSessionRow(Base):
    """A page session (`sessions`): kept by the SHA-256 of its id, with the digest of the token
    it was opened with — its caller is read through that `api_token` row, so revoking the token
    ends the session."""

    __tablename__ = "page_session"
    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True, comment="SHA-256 of the session id")
    token_digest: Mapped[str] = mapped_column(sa.String(64), index=True, comment="api_token.digest")
    created_at: Mapped[int] = mapped_column(sa.BigInteger, comment="Unix seconds")
    expires_at: Mapped[int] = mapped_column(sa.BigInteger, comment="Unix seconds")


class SchemaMigrationRow(Base):
    """The numbered schema migrations (`migrations`) this database has had; a store created
    fresh records the newest number."""

    __tablename__ = "schema_migration"
    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    applied_at: Mapped[datetime]


class ReviewRow(Base):
    """A record of a version that needs review: it has error findings it did not bring itself
    (an untouched record broken by a change elsewhere), with that change as its cause."""

    __tablename__ = "catalog_review"
    version: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    region: Mapped[str | None] = mapped_column(sa.String(16))
    item: Mapped[str | None] = mapped_column(sa.String(32))
    cause: Mapped[str] = mapped_column(sa.Text)
    """JSON: `{"item": code, "changed": {field: [old, new]}}`, or a region's, or `{}`."""

    __table_args__ = (sa.Index("ix_review_region", "version", "region"),)


class SubmissionRow(Base):
    """A submission held for approval (§6 lifecycle): the file as it was sent, zlib-compressed,
    with its author, time and note, the check made when it came (and again when the catalog
    moved on), and how it was decided."""

    __tablename__ = "catalog_submission"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    region: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    """The region of a partial submission; NULL: a whole catalog."""
    by: Mapped[str] = mapped_column(sa.String(200))
    submitted_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(10), index=True)
    """pending, approved or rejected."""
    size: Mapped[int] = mapped_column(sa.BigInteger)
    """Bytes of the file as sent (the stored `body` is compressed)."""
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    checked: Mapped[bytes] = mapped_column(sa.LargeBinary)
    """zlib-compressed JSON of `lifecycle.Check`: against which version, findings, diff."""
    decided_by: Mapped[str | None] = mapped_column(sa.String(200))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int | None]
    """The version an approval published."""


class AuditRow(Base):
    """Who did what, when: publishes, submissions, approvals, rejections and token changes.
    A publish's row is written in the publish's own transaction."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    by: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(32), index=True)
    target: Mapped[str] = mapped_column(sa.String(200))
    detail: Mapped[str] = mapped_column(sa.Text)
    """JSON: what the action needs said (a version's counts, a token's role and region, a reason)."""


# -- cases (§7): see catalog/store/cases.py -----------------------------------------------------


class CaseRow(Base):
    """A case (办件): its columns for queries; the applicant and form sealed with AES-GCM
    (`sealed`, NULL once purged); the access secret only as its SHA-256."""

    __tablename__ = "case_file"
    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    region: Mapped[str] = mapped_column(sa.String(16))
    bundle: Mapped[str | None] = mapped_column(sa.String(200))
    state: Mapped[str] = mapped_column(sa.String(8))
    handed_on: Mapped[date]
    due: Mapped[date]
    due_provisional: Mapped[bool]
    ended_on: Mapped[date | None]
    access: Mapped[str] = mapped_column(sa.String(64))
    body: Mapped[str] = mapped_column(sa.Text)
    """JSON of `casework.CaseRecord`."""
    sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    purged_on: Mapped[date | None]
    moves: Mapped[int] = mapped_column(default=0)
    """Bumped by every write to the case: the row lock that orders its events."""

    __table_args__ = (
        sa.Index("ix_case_region", "region", "handed_on"),
        sa.Index("ix_case_ended", "state", "ended_on"),
        sa.Index("ix_case_provisional", "due_provisional"),
    )


class CaseSerialRow(Base):
    """The last serial reserved for a region's cases of a day (the readable id's last part; handed
    out by each process from the blocks it reserves, `catalog.store.cases.Serials`)."""

    __tablename__ = "case_serial"
    region: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    counter: Mapped[int]


class TaskRow(Base):
    """A task: `body` the JSON of `casework.TaskRecord`, with the columns the queue reads."""

    __tablename__ = "case_task"
    pk: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(sa.String(48), unique=True)
    case_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    agency: Mapped[str] = mapped_column(sa.String(18))
    state: Mapped[str] = mapped_column(sa.String(10))
    due: Mapped[date | None]
    due_provisional: Mapped[bool]
    body: Mapped[str] = mapped_column(sa.Text)

    __table_args__ = (
        sa.Index("ix_task_queue", "agency", "state", "pk"),
        sa.Index("ix_task_agency", "agency", "pk"),
        sa.Index("ix_task_provisional", "due_provisional"),
    )


class CaseEventRow(Base):
    """An agency's (or the applicant's) event on a task, with the answer it got: the same `key`
    again returns that answer."""

    __tablename__ = "case_event"
    pk: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    task_id: Mapped[str] = mapped_column(sa.String(48))
    key: Mapped[str] = mapped_column(sa.String(200))
    event: Mapped[str] = mapped_column(sa.String(10))
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(sa.String(200))
    note: Mapped[str] = mapped_column(sa.Text)
    answer: Mapped[str] = mapped_column(sa.Text)

    __table_args__ = (sa.UniqueConstraint("task_id", "key", name="ux_case_event_key"),)


class RatingRow(Base):
    __tablename__ = "case_rating"
    case_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(sa.Text)
    tasks: Mapped[str] = mapped_column(sa.Text)
    """JSON: task id → score."""
    rated_on: Mapped[date]


class RectificationRow(Base):
    """A 差评's rectification, with its case's region, bundle and hand-in day for the figures."""

    __tablename__ = "case_rectification"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    task_id: Mapped[str | None] = mapped_column(sa.String(48))
    agency: Mapped[str] = mapped_column(sa.String(18))
    region: Mapped[str] = mapped_column(sa.String(16))
    bundle: Mapped[str] = mapped_column(sa.String(200))
    item: Mapped[str] = mapped_column(sa.String(32))
    day: Mapped[date]
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(10))
    opened_on: Mapped[date]
    due: Mapped[date]
    due_provisional: Mapped[bool]
    finding: Mapped[str | None] = mapped_column(sa.Text)
    action: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.Index("ix_rect_agency", "agency", "state"),
        sa.Index("ix_rect_region", "region", "state"),
        sa.Index("ix_rect_provisional", "due_provisional"),
    )


class CalendarRow(Base):
    """A year's official schedule of holidays and 调休 workdays, added as data."""

    __tablename__ = "case_calendar"
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    body: Mapped[str] = mapped_column(sa.Text)
    added_at: Mapped[datetime]
    by: Mapped[str] = mapped_column(sa.String(200))


class _FigureKey:
    """The key of the rolled counter rows (§7.4, `catalog/store/case_figures.py`): `scope` the code
    prefix of the case's region at each level ('' the nation, PP, PPCC, the county's 6 digits,
    the township's 9, the village's 12), item and agency ('' and '': the case itself; else one
    task), `span` 'm' (the month starting on `start`) or 'd' (the day `start`), and bundle ('' ad
    hoc). A region's figures over a date range are an equality on its scope, whole months from
    month rows and the edge days from day rows. (First in the primary key: sort_order.)"""

    scope: Mapped[str] = mapped_column(sa.String(16), primary_key=True, sort_order=-6)
    item: Mapped[str] = mapped_column(sa.String(32), primary_key=True, sort_order=-5)
    agency: Mapped[str] = mapped_column(sa.String(18), primary_key=True, sort_order=-4)
    span: Mapped[str] = mapped_column(sa.String(1), primary_key=True, sort_order=-3)
    start: Mapped[date] = mapped_column(primary_key=True, sort_order=-2)
    bundle: Mapped[str] = mapped_column(sa.String(200), primary_key=True, sort_order=-1)


class FigureRow(_FigureKey, Base):
    """The figures' counters (cases, their states, tasks, ratings) per rolled key."""

    __tablename__ = "case_figure"
    cases: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    open: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    done: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    closed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    tasks: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    ratings: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    score_sum: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    good: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    bad: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (sa.Index("ix_figure_agency", "scope", "agency", "span", "start"),)


class FigureDueRow(_FigureKey, Base):
    """Open cases (item '') and running tasks (item '*': all of them) by their due day: the
    overdue count is those due before today."""

    __tablename__ = "case_figure_due"
    due: Mapped[date] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (sa.Index("ix_figure_due_agency", "scope", "agency", "span", "start"),)


class FigureDaysRow(_FigureKey, Base):
    """Ended cases (item '') and tasks by the working days they took: the median's histogram."""

    __tablename__ = "case_figure_days"
    days: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (sa.Index("ix_figure_days_agency", "scope", "agency", "span", "start"),)


class FigureRectificationRow(_FigureKey, Base):
    """Rectifications (§7.3) by state per rolled key of their case (its hand-in day, region and
    bundle): item and agency '' and '' every rectification, else those of one item and agency."""

    __tablename__ = "case_figure_rect"
    open: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    answered: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    closed: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (sa.Index("ix_figure_rect_agency", "scope", "agency", "span", "start"),)


class FigureRectificationDueRow(_FigureKey, Base):
    """Rectifications not closed by their due day: the overdue count is those due before today."""

    __tablename__ = "case_figure_rect_due"
    due: Mapped[date] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (sa.Index("ix_figure_rect_due_agency", "scope", "agency", "span", "start"),)


class OutboxRow(Base):
    """A task's message waiting for the broker (the transactional outbox of §7.2's push): written in
    the transaction that changes the task, sent by `api.relay`, marked `sent_at` once JetStream
    acknowledged it (`catalog/store/outbox.py`)."""

    __tablename__ = "case_outbox"
    pk: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    task_id: Mapped[str] = mapped_column(sa.String(48))
    seq: Mapped[int]
    agency: Mapped[str] = mapped_column(sa.String(18))
    body: Mapped[str] = mapped_column(sa.Text)
    """JSON of `catalog.store.outbox.PushedTask`: the task as the agency's queue shows it, without
    the form, plus `seq`."""
    made_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        sa.UniqueConstraint("task_id", "seq", name="ux_outbox_task_seq"),
        sa.Index(
            "ix_outbox_unsent",
            "pk",
            postgresql_where=sa.text("sent_at IS NULL"),
            sqlite_where=sa.text("sent_at IS NULL"),
        ),
        sa.Index("ix_outbox_sent", "sent_at"),
    )
