"""The audit: who did what, written in the transaction of what it records, read newest first.

Every publish writes its row in its own transaction (`published`, passed to the publish as its
`finish`); token, submission and case writes write theirs (`audit`) beside their change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import reads
from .publish.writes import new_version
from .schema import AuditRow


class AuditEvent(msgspec.Struct, frozen=True):
    id: int
    at: datetime
    by: str
    action: str
    target: str
    detail: dict[str, Any]


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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


def published(conn: Connection, by: str, action: str, **detail: Any) -> bool:
    """A publish's finish: its audit row, in its transaction (True: commit)."""
    audit_published(conn, by, action, **detail)
    return True


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
        AuditEvent(r.id, utc(r.at), r.by, r.action, r.target, msgspec.json.decode(r.detail)) for r in rows
    ]
