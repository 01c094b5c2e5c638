"""Submissions held for approval (§6), and the dry run they are checked by.

The publish rule lives in one place (`publish.publish_file`); this module only runs it in
other ways, each passing the publish what it does at its end, inside its transaction once
everything is written (its `finish`):

- a **check** (dry run) publishes, reads the diff against the newest version inside the
  transaction, and rolls it back: the findings and diff a reviewer sees are exactly what
  publishing would produce at that moment;
- an **approval** publishes a held submission and, in the same transaction, marks it approved
  (compare-and-set on `pending`, so two approvals publish once) and writes its audit row: a
  crash at any moment leaves the old version with the submission pending, or the new version
  with it approved;
- **four eyes**: a submission is approved by someone other than its submitter (`four_eyes`:
  the same name — a token's name is its holder's — is refused with `OwnSubmission`); an admin
  may override, and the approval's transaction then writes an `approve.override` audit row.

Held files are kept zlib-compressed in `catalog_submission` (a deployment of many instances
shares only the database), at most `max_bytes` each as sent.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..findings import Finding
from . import reads
from .audit import audit, audit_published, utc
from .publish import publish_file, spooled
from .publish.writes import Finish, KeptBundle, Published, Refused, new_version
from .reads import Diff
from .schema import SubmissionRow

STATES = ("pending", "approved", "rejected")


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


# -- checks and submissions -------------------------------------------------------------------


def checked(publish: Callable[[Finish], Published]) -> Check:
    """Run `publish` as a dry run (it is handed the finish that rolls it back): its result and
    its diff against the newest version."""
    seen: dict[str, Any] = {}

    def look(conn: Connection) -> bool:
        version = new_version(conn)
        seen["based_on"] = version - 1
        seen["diff"] = reads.diff(conn, version - 1, version)
        return False  # roll back: nothing is published

    try:
        published = publish(look)
    except Refused as exc:
        return Check(based_on=-1, refused=True, findings=list(exc.findings))
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
        submitted_at=utc(row.submitted_at),
        note=row.note,
        state=row.state,
        size=row.size,
        based_on=check.based_on,
        refused=check.refused,
        decided_by=row.decided_by,
        decided_at=None if row.decided_at is None else utc(row.decided_at),
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


# -- what the Store does with them ------------------------------------------------------------


def check_file(engine: Engine, path: str | Path, *, region: str | None, lock_timeout: float) -> Check:
    """What publishing the file would do now — the same publish, rolled back: refused with
    the touched records' findings, or the counts, findings and diff of the next version."""
    return checked(
        lambda finish: publish_file(
            engine, path, by="", region=region, lock_timeout=lock_timeout, finish=finish
        )
    )


def submit(
    engine: Engine,
    path: str | Path,
    *,
    by: str,
    note: str,
    region: str | None,
    max_bytes: int,
    lock_timeout: float,
) -> tuple[Submission, Check]:
    """Hold a file for approval (at most `max_bytes`, else SubmissionTooLarge), checked now."""
    raw = read_limited(Path(path), max_bytes)
    check = check_file(engine, path, region=region, lock_timeout=lock_timeout)
    with engine.begin() as conn:
        sid = insert_submission(conn, raw, check, by=by, note=note, region=region)
        held = submission(conn, sid)
    assert held is not None
    return held


def recheck(engine: Engine, sid: int, *, lock_timeout: float) -> tuple[Submission, Check] | None:
    """A pending submission checked again when the catalog moved on since its last check."""
    with engine.connect() as conn:
        held = submission(conn, sid)
        newest = reads.heads(conn)[0]
        raw = submission_file(conn, sid)
    if held is None or held[0].state != "pending" or held[1].based_on == newest:
        return held
    assert raw is not None
    with spooled([raw], prefix="held-") as path:
        check = check_file(engine, path, region=held[0].region, lock_timeout=lock_timeout)
    with engine.begin() as conn:
        store_check(conn, sid, check)
        return submission(conn, sid)


def approve(engine: Engine, sid: int, *, by: str, override: bool, lock_timeout: float) -> Published:
    """Publish a pending submission if §6 lets it through now (else Refused, and it stays
    pending); it is marked approved in the publish's own transaction. NotPending when it is
    not there or already decided; OwnSubmission when `by` submitted it (four eyes) unless
    `override` (an admin's: the caller checks the role), which is audited."""
    with engine.connect() as conn:
        held = submission(conn, sid)
        raw = submission_file(conn, sid)
    if held is None or raw is None or held[0].state != "pending":
        raise NotPending(None if held is None else held[0].state)
    sub = held[0]
    overridden = four_eyes(sub, by, override=override)

    def decided(conn: Connection) -> bool:
        decide(conn, sid, state="approved", by=by, version=new_version(conn))
        if overridden:
            audit_override(conn, sub, by)
        audit_published(conn, by, "publish", submission=sid)
        return True

    with spooled([raw], prefix="held-") as path:
        return publish_file(
            engine,
            path,
            by=by,
            note=version_note(sub),
            region=sub.region,
            lock_timeout=lock_timeout,
            finish=decided,
        )


def reject(engine: Engine, sid: int, *, by: str, reason: str) -> Submission:
    with engine.begin() as conn:
        decide(conn, sid, state="rejected", by=by, reason=reason)
        held = submission(conn, sid)
    assert held is not None
    return held[0]


def version_note(sub: Submission) -> str:
    """The note of the version an approval publishes: the submission's, then where it came from
    (`压缩时限（提交 #2，提交人 兴庆区审查员）`)."""
    origin = f"提交 #{sub.id}，提交人 {sub.by}" if sub.by else f"提交 #{sub.id}"
    return f"{sub.note}（{origin}）" if sub.note else origin
