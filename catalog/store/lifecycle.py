"""Around the publish of §6: dry runs, submissions held for approval, and the audit.

The publish rule lives in one place (`publish.publish_file`); this module only runs it in
other ways, through the `writes.FINISH` hook that is called inside a publish's transaction
once everything is written:

- a **check** (dry run) publishes, reads the diff against the newest version inside the
  transaction, and rolls it back: the findings and diff a reviewer sees are exactly what
  publishing would produce at that moment;
- an **approval** publishes a held submission and, in the same transaction, marks it approved
  (compare-and-set on `pending`, so two approvals publish once) and writes its audit row: a
  crash at any moment leaves the old version with the submission pending, or the new version
  with it approved;
- **four eyes**: a submission is approved by someone other than its submitter (`four_eyes`:
  the same name — a token's name is its holder's — is refused with `OwnSubmission`); an admin
  may override, and the approval's transaction then writes an `approve.override` audit row;
- every publish writes its audit row in its own transaction.

Held files are kept zlib-compressed in `catalog_submission` (a deployment of many instances
shares only the database), at most `max_bytes` each as sent.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..findings import Finding
from . import reads
from .reads import Diff, Flag
from .schema import AuditRow, FindingRow, ReviewRow, SubmissionRow
from .writes import FINISH, KeptBundle, Published

STATES = ("pending", "approved", "rejected")


class Caller(msgspec.Struct, frozen=True):
    """Who holds a token: its name (what versions and the audit record), role and region scope."""

    name: str
    role: str
    region: str | None = None
    agency: str | None = None
    """Role `agency`: the USCC whose tasks the token reads and acts on."""


class Check(msgspec.Struct, frozen=True):
    """What publishing a submission would do, computed against version `based_on`."""

    based_on: int
    refused: bool
    findings: list[Finding]
    """Refused: the touched records' error findings. Else the would-be version's findings."""
    added: int = 0
    changed: int = 0
    removed: int = 0
    needs_review: int = 0
    diff: Diff | None = None
    """Against `based_on` (None when refused: nothing would be published)."""
    kept: list[KeptBundle] = msgspec.field(default_factory=list)
    """The file's bundles that would not be taken (designers edited them since: `write_bundles`)."""


class Submission(msgspec.Struct, frozen=True):
    id: int
    region: str | None
    by: str
    submitted_at: datetime
    note: str
    state: str
    size: int
    based_on: int
    refused: bool
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    version: int | None = None


class AuditEvent(msgspec.Struct, frozen=True):
    id: int
    at: datetime
    by: str
    action: str
    target: str
    detail: dict[str, Any]


class SubmissionTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"a held submission may be at most {limit} bytes")
        self.limit = limit


class NotPending(Exception):
    """Approving or rejecting a submission already decided (or not there: `state` None)."""

    def __init__(self, state: str | None):
        super().__init__(f"the submission is {state or 'not there'}")
        self.state = state


class OwnSubmission(Exception):
    """Approving a submission by the name that submitted it (four eyes, §6's review)."""

    def __init__(self, sid: int, by: str):
        super().__init__(f"submission {sid} was submitted by {by}, who cannot approve it")
        self.sid = sid
        self.by = by


def four_eyes(held: Submission, by: str, *, override: bool) -> bool:
    """May `by` approve `held`? Anyone but its submitter; its submitter only with `override`
    (an admin's, which the caller checked) — True then, for the approval to audit it."""
    if held.by != by:
        return False
    if not override:
        raise OwnSubmission(held.id, by)
    return True


def audit_override(conn: Connection, held: Submission, by: str) -> None:
    """The audit row of an approval that overrode four eyes."""
    audit(
        conn,
        by,
        "approve.override",
        f"submission {held.id}",
        submitter=held.by,
        rule="four_eyes",
        note="管理员越过四眼原则，批准了本人的提交",
    )


_check_decoder = msgspec.json.Decoder(Check)


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@contextmanager
def finishing(finish: Callable[[Connection], bool]) -> Iterator[None]:
    """Run the publishes inside this block with `finish` called in their transaction."""
    token = FINISH.set(finish)
    try:
        yield
    finally:
        FINISH.reset(token)


def new_version(conn: Connection) -> int:
    """Inside a publish's transaction: the version it is writing."""
    return reads.heads(conn)[0]


def audit(conn: Connection, by: str, action: str, target: str, **detail: Any) -> None:
    conn.execute(
        sa.insert(AuditRow).values(
            at=datetime.now(UTC),
            by=by,
            action=action,
            target=target,
            detail=msgspec.json.encode(detail).decode(),
        )
    )


def audit_published(conn: Connection, by: str, action: str, **detail: Any) -> None:
    """The audit row of the publish whose transaction `conn` is, with the version's counts."""
    version = new_version(conn)
    row = reads.version_row(conn, version)
    audit(
        conn,
        by,
        action,
        f"version {version}",
        version=version,
        region=row.region,
        note=row.note,
        added=row.added,
        changed=row.changed,
        removed=row.removed,
        needs_review=row.needs_review,
        **detail,
    )


def audit_events(
    conn: Connection, *, action: str | None, limit: int, offset: int
) -> tuple[int, list[AuditEvent]]:
    """Newest first."""
    where = [] if action is None else [AuditRow.action == action]
    total = conn.execute(sa.select(sa.func.count()).select_from(AuditRow).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(AuditRow.__table__).where(*where).order_by(AuditRow.id.desc()).limit(limit).offset(offset)
    )
    return total, [
        AuditEvent(r.id, _utc(r.at), r.by, r.action, r.target, msgspec.json.decode(r.detail)) for r in rows
    ]


# -- checks and submissions -------------------------------------------------------------------


def checked(publish: Callable[[], Published], refused: type[Exception]) -> Check:
    """Run `publish` as a dry run: its result and its diff against the newest version."""
    seen: dict[str, Any] = {}

    def look(conn: Connection) -> bool:
        version = new_version(conn)
        seen["based_on"] = version - 1
        seen["diff"] = reads.diff(conn, version - 1, version)
        return False  # roll back: nothing is published

    try:
        with finishing(look):
            published = publish()
    except refused as exc:
        return Check(based_on=-1, refused=True, findings=list(exc.findings))  # type: ignore[attr-defined]
    return Check(
        based_on=seen["based_on"],
        refused=False,
        findings=list(published.report.findings),
        added=published.added,
        changed=published.changed,
        removed=published.removed,
        needs_review=published.needs_review,
        diff=seen["diff"],
        kept=list(published.kept),
    )


def pack(check: Check) -> bytes:
    return zlib.compress(msgspec.json.encode(check), 6)


def unpack(data: bytes) -> Check:
    return _check_decoder.decode(zlib.decompress(data))


def read_limited(path: Path, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise SubmissionTooLarge(max_bytes)
    return path.read_bytes()


def insert_submission(
    conn: Connection, raw: bytes, check: Check, *, by: str, note: str, region: str | None
) -> int:
    sid = conn.execute(
        sa.insert(SubmissionRow)
        .values(
            region=region,
            by=by,
            submitted_at=datetime.now(UTC),
            note=note,
            state="pending",
            size=len(raw),
            body=zlib.compress(raw, 6),
            checked=pack(check),
        )
        .returning(SubmissionRow.id)
    ).scalar_one()
    audit(conn, by, "submit", f"submission {sid}", region=region, note=note, refused=check.refused)
    return sid


def _submission(row: Any, check: Check) -> Submission:
    return Submission(
        id=row.id,
        region=row.region,
        by=row.by,
        submitted_at=_utc(row.submitted_at),
        note=row.note,
        state=row.state,
        size=row.size,
        based_on=check.based_on,
        refused=check.refused,
        decided_by=row.decided_by,
        decided_at=None if row.decided_at is None else _utc(row.decided_at),
        reason=row.reason,
        version=row.version,
    )


def submission(conn: Connection, sid: int) -> tuple[Submission, Check] | None:
    row = conn.execute(sa.select(SubmissionRow.__table__).where(SubmissionRow.id == sid)).first()
    if row is None:
        return None
    check = unpack(row.checked)
    return _submission(row, check), check


def submission_file(conn: Connection, sid: int) -> bytes | None:
    body = conn.execute(sa.select(SubmissionRow.body).where(SubmissionRow.id == sid)).scalar_one_or_none()
    return None if body is None else zlib.decompress(body)


def submissions(
    conn: Connection,
    *,
    state: str | None,
    regions: Sequence[str] | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Submission]]:
    """Newest first; `regions`: only partial submissions of those regions."""
    t = SubmissionRow
    where: list[Any] = []
    if state is not None:
        where.append(t.state == state)
    if regions is not None:
        where.append(t.region.in_(list(regions)))
    total = conn.execute(sa.select(sa.func.count()).select_from(t).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(t.__table__).where(*where).order_by(t.id.desc()).limit(limit).offset(offset)
    )
    return total, [_submission(r, unpack(r.checked)) for r in rows]


def store_check(conn: Connection, sid: int, check: Check) -> None:
    conn.execute(sa.update(SubmissionRow).where(SubmissionRow.id == sid).values(checked=pack(check)))


def decide(
    conn: Connection, sid: int, *, state: str, by: str, reason: str | None = None, version: int | None = None
) -> None:
    """Compare-and-set a pending submission to `state`, with its audit row; NotPending when it
    was decided meanwhile (the caller's transaction then rolls back)."""
    done = conn.execute(
        sa.update(SubmissionRow)
        .where(SubmissionRow.id == sid, SubmissionRow.state == "pending")
        .values(state=state, decided_by=by, decided_at=datetime.now(UTC), reason=reason, version=version)
    ).rowcount
    if done != 1:
        current = conn.execute(
            sa.select(SubmissionRow.state).where(SubmissionRow.id == sid)
        ).scalar_one_or_none()
        raise NotPending(current)
    action = "approve" if state == "approved" else "reject"
    detail: dict[str, Any] = {"reason": reason} if reason is not None else {"version": version}
    audit(conn, by, action, f"submission {sid}", **detail)


# -- the needs-review queue, filtered and paged -----------------------------------------------


def review_page(
    conn: Connection,
    version: int,
    *,
    regions: Sequence[str] | None,
    rule: str | None,
    item: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Flag]]:
    """The version's needs-review flags of `regions`, whose item is `item`, with an error of
    `rule` — counted, then one page of them by kind and key with their findings and cause."""
    r, f = ReviewRow, FindingRow
    where: list[Any] = [r.version == version]
    if regions is not None:
        where.append(r.region.in_(list(regions)))
    if item is not None:
        where.append(sa.or_(r.item == item, sa.and_(r.kind == "item", r.key == item)))
    if rule is not None:
        where.append(
            sa.exists().where(
                f.version == version,
                f.severity == "error",
                f.rule == rule,
                f.kind == r.kind,
                f.key == r.key,
            )
        )
    total = conn.execute(sa.select(sa.func.count()).select_from(r).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(r.kind, r.key, r.region, r.cause)
        .where(*where)
        .order_by(r.kind, r.key)
        .limit(limit)
        .offset(offset)
    ).all()
    found: dict[tuple[str, str], list[Finding]] = {}
    if rows:
        for row in conn.execute(
            sa.select(f.rule, f.severity, f.kind, f.key, f.line, f.message)
            .where(f.version == version, f.severity == "error", f.key.in_([key for _, key, _, _ in rows]))
            .order_by(f.seq)
        ):
            found.setdefault((row[2], row[3]), []).append(Finding(*row))  # type: ignore[arg-type]
    return total, [
        Flag(
            kind=kind,
            key=key,
            region=region,
            findings=found.get((kind, key), []),
            cause=msgspec.json.decode(cause),
        )
        for kind, key, region, cause in rows
    ]
