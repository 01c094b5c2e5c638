"""The catalog store: a versioned SQLAlchemy adapter (SQLite file or PostgreSQL, same code).

- `schema` — the tables: rows valid from one version to another, content-hashed.
- `publish` — a whole file becomes the next version, writing only what changed.
- `reads` — indexed reads of one version: the slice one question needs.
- `cases` — cases of §7 (`Store.cases`): tasks, events, ratings, rectifications, the figures.

The core never sees a row: records go in and come out as `catalog.model`
Structs. Every write is one transaction; writers take the state rows in one
order (catalog, then bundles, then bundle rows), so none deadlocks another and
none starves. Readers never wait for writers.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .. import scratch
from ..codes import uscc_problem
from ..findings import Conformity
from ..load import dump_lines
from ..model import Bundle, Catalog, Implementation, record_encoder
from ..tree import subtree
from ..words import ROLES
from . import lifecycle, reads
from .lifecycle import (
    AuditEvent,
    Caller,
    Check,
    NotPending,
    OwnSubmission,
    Submission,
    SubmissionTooLarge,
)
from .limits import BATCH_LIMITS, Gate, Limits
from .publish import publish_file
from .reads import VersionInfo
from .schema import BUNDLES_ROW, CATALOG_ROW, CURRENT, Base, BundleGoneRow, BundleRow, StateRow, TokenRow
from .tokens import token_digest
from .writes import KeptBundle, Published, Refused, SheetRefused, StoreBusy, bundle_decoder

if TYPE_CHECKING:
    from .cases import CaseStore

__all__ = [
    "ROLES",
    "AuditEvent",
    "BundleExists",
    "BundleNotFound",
    "Caller",
    "Check",
    "KeptBundle",
    "NotPending",
    "OwnSubmission",
    "Published",
    "Refused",
    "SheetRefused",
    "Store",
    "StoreBusy",
    "StoreOutdated",
    "StoredBundle",
    "Submission",
    "SubmissionTooLarge",
    "VersionConflict",
    "VersionInfo",
]



class StoredBundle(msgspec.Struct, frozen=True):
    bundle: Bundle
    version: int


class BundleExists(Exception):
    """Creating a bundle whose id is taken."""


class BundleNotFound(Exception):
    """Replacing or deleting a bundle that is not there."""


class VersionConflict(Exception):
    """A write based on a version that is no longer the bundle's (a lost update averted)."""

    def __init__(self, bundle_id: str, current: int):
        super().__init__(f"bundle {bundle_id} is at version {current}")
        self.current = current


class Store:
    """One catalog's versions, its bundles and the API tokens, in one database."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        lock_timeout: float = 60,
        limits: Limits | None = None,
        gate: Gate | None = None,
    ):
        """`lock_timeout`: seconds a publish waits for another writer before StoreBusy.
        `limits`: time limits on PostgreSQL calls (`catalog.store.limits`; by default those of
        a batch command: ordinary statements as long as a publish's); `gate`: a circuit breaker
        every PostgreSQL call asks first."""
        self.url = url
        self.lock_timeout = lock_timeout
        self.limits = limits or BATCH_LIMITS
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True, "pool_timeout": self.limits.pool}
        if url.startswith("sqlite"):
            # Writers wait for each other instead of failing; WAL lets readers go on meanwhile.
            # (check_same_thread: a publish hands its connection to a writer thread for a while.)
            kwargs["connect_args"] = {"timeout": lock_timeout, "check_same_thread": False}
        self.engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            from .guarded import guard

            guard(self.engine, self.limits, gate)  # pings a connection that sat idle, too
        _check_layout(self.engine)
        Base.metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            present = {row for (row,) in conn.execute(sa.select(StateRow.id))}
            for row in (CATALOG_ROW, BUNDLES_ROW):
                if row not in present:
                    conn.execute(sa.insert(StateRow).values(id=row, counter=0))

    def dispose(self) -> None:
        self.engine.dispose()

    @functools.cached_property
    def cases(self) -> CaseStore:
        """The cases of §7, personal data sealed with the key the environment names."""
        from .cases import CaseStore, Sealer

        return CaseStore(self.engine, Sealer.from_env())

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def quick(self) -> AbstractContextManager[None]:
        """This thread's PostgreSQL answers within `limits.quick` (a small read on every request's
        path): a server that takes longer is taken for hung."""
        if self.url.startswith("sqlite"):
            return nullcontext()
        from .limits import answer_within

        return answer_within(self.limits.quick)

    # -- the heads ---------------------------------------------------------------------------
    def heads(self) -> tuple[int, int]:
        """(newest catalog version, bundles revision); 0 before the first publish."""
        with self.quick(), self._read() as conn:
            return reads.heads(conn)

    def revision(self) -> int:
        """The newest published version (0: nothing published yet)."""
        return self.heads()[0]

    # -- publishing --------------------------------------------------------------------------
    def publish_file(
        self,
        path: str | Path,
        *,
        by: str = "",
        note: str = "",
        region: str | None = None,
        progress: Callable[[int], None] | None = None,
        take_bundles: bool = False,
    ) -> Published:
        """A whole catalog file becomes the next version; raises Refused (nothing written) when
        it, or a stored bundle it keeps, has an error finding; StoreBusy when another publish held
        the catalog past `lock_timeout`. OSError: the file is unreadable. A bundle edited or
        deleted through the API since a file last wrote it is kept as it is (`Published.kept`,
        one warning each) unless `take_bundles`."""
        with lifecycle.finishing(lambda conn: _audited(conn, by, "publish")):
            return publish_file(
                self.engine,
                path,
                by=by,
                note=note,
                region=region,
                progress=progress,
                lock_timeout=self.lock_timeout,
                take_bundles=take_bundles,
            )

    def republish(self, version: int, *, by: str = "", note: str = "") -> Published:
        """A new version with the content of `version` (history only grows, §6). KeyError when
        there is no such version."""
        import tempfile

        if not 1 <= version <= self.revision():
            raise KeyError(version)
        with tempfile.NamedTemporaryFile(suffix=".jsonl", dir=scratch.folder()) as fh:
            fh.writelines(self.export(version))
            fh.flush()
            with lifecycle.finishing(lambda conn: _audited(conn, by, "republish", source=version)):
                return publish_file(
                    self.engine,
                    fh.name,
                    by=by,
                    note=note or f"version {version} again",
                    lock_timeout=self.lock_timeout,
                    source=version,
                )

    def diff(self, a: int, b: int) -> reads.Diff:
        """The whole diff in memory — for a small one; `diff_counts` and `diff_segment` page a
        national one."""
        with self._read() as conn:
            return reads.diff(conn, a, b)

    def diff_counts(self, a: int, b: int) -> dict[str, dict[str, int]]:
        """kind → {added, removed, changed} from version a to b (§6's diff, counted)."""
        with self._read() as conn:
            return reads.diff_counts(conn, a, b)

    def diff_segment(
        self, a: int, b: int, kind: str, change: str, offset: int, limit: int
    ) -> list[tuple[str, Any]]:
        """One page of a kind's added, removed or changed records: (key, changed fields or None)."""
        with self._read() as conn:
            return reads.diff_segment(conn, a, b, kind, change, offset, limit)

    def review(
        self, version: int | None = None, *, region: str | None = None
    ) -> tuple[int, list[reads.Flag]]:
        """(version, its needs-review queue), the newest by default; `region` keeps its subtree."""
        with self._read() as conn:
            version = reads.heads(conn)[0] if version is None else version
            within = None
            if region is not None:
                regions = reads.dictionaries(conn, version).regions
                within = sorted(subtree(regions, region))
            return version, reads.review(conn, version, within)

    def publish(
        self, catalog: Catalog, *, by: str = "", note: str = "", take_bundles: bool = False
    ) -> Published:
        """A catalog built in memory, published through the same path as a file."""
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".jsonl", dir=scratch.folder()) as fh:
            fh.writelines(dump_lines(catalog))
            fh.flush()
            return self.publish_file(fh.name, by=by, note=note, take_bundles=take_bundles)

    # -- reading a version -------------------------------------------------------------------
    def versions(self) -> list[VersionInfo]:
        with self._read() as conn:
            return reads.versions(conn)

    def tag(self, version: int) -> str | None:
        with self._read() as conn:
            row = reads.version_row(conn, version)
            return None if row is None else row.tag

    def dictionaries(self, version: int) -> Catalog:
        """The small records of a version: everything but implementations and bundles."""
        with self._read() as conn:
            return reads.dictionaries(conn, version)

    def implementations(
        self,
        version: int,
        *,
        regions: Sequence[str] | None = None,
        items: Sequence[str] | None = None,
        codes: Sequence[str] | None = None,
    ) -> list[Implementation]:
        with self._read() as conn:
            return reads.implementations(conn, version, regions=regions, items=items, codes=codes)

    def placements(self, version: int, path: Sequence[str]) -> list[reads.Placement]:
        """Each item's implementation nearest the first region of `path` (`reads.placements`),
        with what a list of a region's items shows."""
        with self._read() as conn:
            return reads.placements(conn, version, path)

    def implementations_within(
        self, version: int, regions: Collection[str] | None
    ) -> Iterator[Implementation]:
        """The implementations of `regions` (a subtree) through the region index, or (None) every
        one of the version, streamed either way."""
        if regions is not None:
            yield from self.region_implementations(version, regions)
            return
        with self._read() as conn:
            yield from reads.every_implementation(conn, version)

    def region_implementations(self, version: int, regions: Collection[str]) -> Iterator[Implementation]:
        """The implementations of `regions` (a subtree), streamed region by region, each by item
        and code: what a region's sheet lists."""
        with self._read() as conn:
            yield from reads.region_implementations(conn, version, regions)

    def item_implementations(
        self, version: int, item: str, *, limit: int, offset: int = 0
    ) -> tuple[int, list[tuple[Implementation, int | None]]]:
        with self._read() as conn:
            return reads.item_implementations(conn, version, item, limit, offset)

    def implementation(self, version: int, code: str) -> tuple[Implementation, int | None] | None:
        with self._read() as conn:
            return reads.implementation(conn, version, code)

    def findings(self, version: int, **filters: Any) -> tuple[int, list[reads.StoredFinding]]:
        with self._read() as conn:
            return reads.findings(conn, version, **filters)

    def rule_counts(self, version: int) -> dict[str, int]:
        with self._read() as conn:
            return reads.rule_counts(conn, version)

    def finding_totals(self, version: int) -> tuple[int, int]:
        """(errors, warnings) of a version's report."""
        with self._read() as conn:
            return reads.finding_totals(conn, version)

    def conformity(self, version: int) -> list[Conformity]:
        with self._read() as conn:
            return reads.conformity(conn, version)

    def item_counts(self, version: int) -> dict[str, int]:
        with self._read() as conn:
            return reads.item_counts(conn, version)

    def export(self, version: int | None = None) -> Iterator[bytes]:
        """A version as JSONL lines (the newest by default), streamed."""
        with self._read() as conn:
            if version is None:
                version = reads.heads(conn)[0]
            yield from reads.export(conn, version)

    def catalog(self, version: int | None = None) -> Catalog | None:
        """A whole version in memory with the stored bundles — for tests and small tools only;
        the service never calls it. None before the first publish."""
        with self._read() as conn:
            newest = reads.heads(conn)[0]
            version = newest if version is None else version
            if version == 0:
                return None
            out = reads.dictionaries(conn, version)
            t = reads.ImplementationRow
            rows = conn.execute(
                sa.select(t.code, t.body, t.line).where(reads._in(t, version)).order_by(t.code)
            )
            impl_lines: dict[str, int] = {}
            for code, body, line in rows:
                out.implementations[code] = reads.implementation_decoder.decode(body)
                if line is not None:
                    impl_lines[code] = line
            if impl_lines:
                out.lines["implementation"] = impl_lines
            bundle_lines: dict[str, int] = {}
            for bundle_id, body, _, line in reads.bundles(conn):
                out.bundles[bundle_id] = bundle_decoder.decode(body)
                if line is not None:
                    bundle_lines[bundle_id] = line
            if bundle_lines:
                out.lines["bundle"] = bundle_lines
            return out

    # -- bundles (the designers' writes) -------------------------------------------------------
    def bundles(self) -> list[StoredBundle]:
        with self._read() as conn:
            return [StoredBundle(bundle_decoder.decode(body), v) for _, body, v, _ in reads.bundles(conn)]

    def bundle(self, bundle_id: str) -> StoredBundle | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(BundleRow.body, BundleRow.version).where(BundleRow.id == bundle_id)
            ).first()
            return None if row is None else StoredBundle(bundle_decoder.decode(row[0]), row[1])

    @contextmanager
    def _bundle_write(self) -> Iterator[Connection]:
        """A transaction that first takes the bundles row (never the catalog row: a publish
        takes that one first, then this one, so the order is the same for everyone)."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(StateRow).where(StateRow.id == BUNDLES_ROW).values(counter=StateRow.counter + 1)
            )
            yield conn

    def create_bundle(self, bundle: Bundle, check: Callable[[Bundle], None] | None = None) -> StoredBundle:
        """`check` runs inside the write, against what is then published (a publish waits)."""
        with self._bundle_write() as conn:
            if conn.execute(sa.select(BundleRow.id).where(BundleRow.id == bundle.id)).first() is not None:
                raise BundleExists(bundle.id)
            if check is not None:
                check(bundle)
            conn.execute(sa.insert(BundleRow).values(id=bundle.id, body=_body(bundle), version=1, line=None))
            conn.execute(sa.delete(BundleGoneRow).where(BundleGoneRow.id == bundle.id))
        return StoredBundle(bundle, 1)

    def replace_bundle(
        self, bundle: Bundle, if_version: int, check: Callable[[Bundle], None] | None = None
    ) -> StoredBundle:
        """Compare-and-set on the version: of two writers holding the same version, one wins."""
        with self._bundle_write() as conn:
            if check is not None:
                check(bundle)
            done = conn.execute(
                sa.update(BundleRow)
                .where(BundleRow.id == bundle.id, BundleRow.version == if_version)
                .values(body=_body(bundle), version=if_version + 1, line=None)
            ).rowcount
            if done != 1:
                _raise_missing_or_stale(conn, bundle.id)
        return StoredBundle(bundle, if_version + 1)

    def delete_bundle(self, bundle_id: str, if_version: int | None) -> None:
        with self._bundle_write() as conn:
            query = sa.delete(BundleRow).where(BundleRow.id == bundle_id)
            if if_version is not None:
                query = query.where(BundleRow.version == if_version)
            if conn.execute(query).rowcount != 1:
                _raise_missing_or_stale(conn, bundle_id)
            conn.execute(sa.delete(BundleGoneRow).where(BundleGoneRow.id == bundle_id))
            conn.execute(sa.insert(BundleGoneRow).values(id=bundle_id, deleted_at=datetime.now(UTC)))

    # -- tokens ------------------------------------------------------------------------------
    def create_token(
        self, name: str, role: str, *, region: str | None = None, agency: str | None = None, by: str = ""
    ) -> str:
        """A new bearer token for `role` (acting only within `region`'s subtree when given; an
        admin is never scoped; an `agency` token is bound to one agency's USCC); the secret is
        returned once and kept only as a hash."""
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if region is not None and role == "admin":
            raise ValueError("an admin token cannot be scoped to a region")
        if (role == "agency") != (agency is not None):
            raise ValueError("an agency token needs --agency USCC, and only an agency token takes one")
        if agency is not None and uscc_problem(agency) is not None:
            raise ValueError(f"--agency {agency!r}: {uscc_problem(agency)}")
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(TokenRow).values(
                    digest=token_digest(token),
                    name=name,
                    role=role,
                    region=region,
                    agency=agency,
                    created_at=datetime.now(UTC),
                )
            )
            lifecycle.audit(conn, by, "token.create", name, role=role, region=region, agency=agency)
        return token

    def token_role(self, token: str) -> str | None:
        caller = self.token_caller(token)
        return None if caller is None else caller.role

    def token_caller(self, token: str) -> Caller | None:
        """Who holds the token (name, role, region), or None for an unknown or revoked one.
        (On every request's path: a server that does not answer within `limits.quick` is hung.)"""
        with self.quick(), self._read() as conn:
            row = conn.execute(
                sa.select(TokenRow.name, TokenRow.role, TokenRow.region, TokenRow.agency).where(
                    TokenRow.digest == token_digest(token)
                )
            ).first()
            return None if row is None else Caller(*row)

    def tokens(self) -> list[tuple[str, str, str | None, datetime]]:
        """(name, role, region, created) of every token — never the secret, which is not kept."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(TokenRow.name, TokenRow.role, TokenRow.region, TokenRow.created_at).order_by(
                    TokenRow.created_at
                )
            )
            return [(name, role, region, created) for name, role, region, created in rows]

    def revoke_tokens(self, name: str, *, by: str = "") -> int:
        with self.engine.begin() as conn:
            count = conn.execute(sa.delete(TokenRow).where(TokenRow.name == name)).rowcount
            if count:
                lifecycle.audit(conn, by, "token.revoke", name, revoked=count)
            return count

    # -- lifecycle: dry runs, submissions held for approval, the review queue, the audit ----------
    def check_file(self, path: str | Path, *, region: str | None = None) -> Check:
        """What publishing the file would do now — the same publish, rolled back: refused with
        the touched records' findings, or the counts, findings and diff of the next version."""
        return lifecycle.checked(
            lambda: publish_file(self.engine, path, by="", region=region, lock_timeout=self.lock_timeout),
            Refused,
        )

    def submit(
        self, path: str | Path, *, by: str, note: str = "", region: str | None = None, max_bytes: int
    ) -> tuple[Submission, Check]:
        """Hold a file for approval (at most `max_bytes`, else SubmissionTooLarge), checked now."""
        raw = lifecycle.read_limited(Path(path), max_bytes)
        check = self.check_file(path, region=region)
        with self.engine.begin() as conn:
            sid = lifecycle.insert_submission(conn, raw, check, by=by, note=note, region=region)
        held = self.submission(sid)
        assert held is not None
        return held

    def submission(self, sid: int) -> tuple[Submission, Check] | None:
        with self._read() as conn:
            return lifecycle.submission(conn, sid)

    def submission_file(self, sid: int) -> bytes | None:
        """The held file as it was sent."""
        with self._read() as conn:
            return lifecycle.submission_file(conn, sid)

    def submissions(
        self,
        *,
        state: str | None = None,
        regions: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[Submission]]:
        with self._read() as conn:
            return lifecycle.submissions(conn, state=state, regions=regions, limit=limit, offset=offset)

    def recheck(self, sid: int) -> tuple[Submission, Check] | None:
        """A pending submission checked again when the catalog moved on since its last check."""
        held = self.submission(sid)
        if held is None or held[0].state != "pending" or held[1].based_on == self.revision():
            return held
        raw = self.submission_file(sid)
        assert raw is not None
        with _spooled(raw) as path:
            check = self.check_file(path, region=held[0].region)
        with self.engine.begin() as conn:
            lifecycle.store_check(conn, sid, check)
        return self.submission(sid)

    def approve(self, sid: int, *, by: str, override: bool = False) -> Published:
        """Publish a pending submission if §6 lets it through now (else Refused, and it stays
        pending); it is marked approved in the publish's own transaction. NotPending when it is
        not there or already decided; OwnSubmission when `by` submitted it (four eyes) unless
        `override` (an admin's: the caller checks the role), which is audited."""
        held = self.submission(sid)
        raw = self.submission_file(sid)
        if held is None or raw is None or held[0].state != "pending":
            raise NotPending(None if held is None else held[0].state)
        sub = held[0]
        overridden = lifecycle.four_eyes(sub, by, override=override)

        def decided(conn: Connection) -> bool:
            version = lifecycle.new_version(conn)
            lifecycle.decide(conn, sid, state="approved", by=by, version=version)
            if overridden:
                lifecycle.audit_override(conn, sub, by)
            return _audited(conn, by, "publish", submission=sid)

        note = version_note(sub)
        with _spooled(raw) as path, lifecycle.finishing(decided):
            return publish_file(
                self.engine, path, by=by, note=note, region=sub.region, lock_timeout=self.lock_timeout
            )

    def reject(self, sid: int, *, by: str, reason: str) -> Submission:
        with self.engine.begin() as conn:
            lifecycle.decide(conn, sid, state="rejected", by=by, reason=reason)
        held = self.submission(sid)
        assert held is not None
        return held[0]

    def review_page(
        self,
        version: int,
        *,
        regions: Sequence[str] | None = None,
        rule: str | None = None,
        item: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[reads.Flag]]:
        """One page of a version's needs-review queue, filtered by regions, rule and item."""
        with self._read() as conn:
            return lifecycle.review_page(
                conn, version, regions=regions, rule=rule, item=item, limit=limit, offset=offset
            )

    def audit(
        self, *, action: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[AuditEvent]]:
        """Who did what, newest first."""
        with self._read() as conn:
            return lifecycle.audit_events(conn, action=action, limit=limit, offset=offset)


class StoreOutdated(Exception):
    """The database holds tables of an earlier onething layout that this one cannot read."""


def _check_layout(engine: sa.Engine) -> None:
    """Refuse, with a clear word, a database made by the first store (one catalog, no versions);
    add what later revisions only added (the token's region)."""
    found = sa.inspect(engine)
    tables = set(found.get_table_names())
    if "onething_state" in tables and "counter" not in {
        c["name"] for c in found.get_columns("onething_state")
    }:
        raise StoreOutdated(
            f"{engine.url.render_as_string(hide_password=True)} was made by an earlier onething that kept one "
            "catalog without versions; publish into a new database (the default one: delete onething.db)"
        )
    if "api_token" in tables and "region" not in {c["name"] for c in found.get_columns("api_token")}:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE api_token ADD COLUMN region VARCHAR(16)")
    if "api_token" in tables and "agency" not in {c["name"] for c in found.get_columns("api_token")}:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE api_token ADD COLUMN agency VARCHAR(18)")
    if engine.dialect.name == "sqlite" and "catalog_implementation" in tables:
        CURRENT.create(engine, checkfirst=True)


def _body(bundle: Bundle) -> str:
    return record_encoder.encode(bundle).decode()


def _raise_missing_or_stale(conn: Connection, bundle_id: str) -> None:
    current = conn.execute(sa.select(BundleRow.version).where(BundleRow.id == bundle_id)).scalar_one_or_none()
    if current is None:
        raise BundleNotFound(bundle_id)
    raise VersionConflict(bundle_id, current)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # A first publish writes alone (`writes.transaction`): it goes back to WAL when it ends.
    with contextlib.suppress(sqlite3.OperationalError):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA threads={min(4, os.cpu_count() or 1)}")  # sorts (index builds) on more cores
    cursor.close()


def version_note(sub: Submission) -> str:
    """The note of the version an approval publishes: the submission's, then where it came from
    (`压缩时限（提交 #2，提交人 兴庆区审查员）`)."""
    origin = f"提交 #{sub.id}，提交人 {sub.by}" if sub.by else f"提交 #{sub.id}"
    return f"{sub.note}（{origin}）" if sub.note else origin


def _audited(conn: Connection, by: str, action: str, **detail: Any) -> bool:
    """A publish's finish: its audit row, in its transaction (True: commit)."""
    lifecycle.audit_published(conn, by, action, **detail)
    return True


@contextmanager
def _spooled(raw: bytes) -> Iterator[Path]:
    """A held file back on disk for the publish to read."""
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="held-", suffix=".jsonl", dir=scratch.folder()) as fh:
        fh.write(raw)
        fh.flush()
        yield Path(fh.name)
