"""The catalog store: a versioned SQLAlchemy adapter (SQLite file or PostgreSQL, same code).

`Store` is the facade: each method hands one question to the module that answers it
(docs/architecture.md draws the rooms):

- `schema` — every table; `migrations` — schema changes, numbered, applied at open;
- `publish` — a whole file becomes the next version, writing only what changed: the one door
  every kind of publish goes through (`publish_file`, `publish`, `publish_sheet`, `republish`,
  `approve`, the dry run `check_file`), each passing what happens at its end (`finish`);
- `reads` — indexed reads of one version: the slice one question needs;
- `replicas` — those reads on PostgreSQL hot standbys that have replayed the version;
- `review_queue` — a version's needs-review flags; `bundles` — the designers' bundles;
- `tokens` — API tokens; `sessions` — page sessions; `submissions` — files held for
  approval; `audit` — who did what; `sheets` — a region's sheet in and out;
- `cases` — cases of §7 (`Store.cases`): tasks, events, ratings, rectifications, the figures.

The core never sees a row: records go in and come out as `catalog.model` Structs. Every write
is one transaction; writers take the state rows in one order (catalog, then bundles, then
bundle rows), so none deadlocks another and none starves. Readers never wait for writers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..findings import Conformity
from ..load import dump_lines
from ..model import Bundle, Catalog, Implementation, Region, ServicePoint
from ..words import ROLES
from . import audit as audits
from . import bundles as bundle_writes
from . import figures, reads, review_queue, sheets, submissions, tokens
from .audit import AuditEvent
from .bundles import BundleExists, BundleNotFound, StoredBundle, VersionConflict
from .engine import connect
from .limits import BATCH_LIMITS, Gate, Limits
from .migrations import StoreOutdated, migrate
from .publish import Finish, KeptBundle, Published, Refused, SheetRefused, StoreBusy, publish_file, spooled
from .reads import VersionInfo
from .replicas import Replicas
from .schema import BUNDLES_ROW, CATALOG_ROW, Base, StateRow
from .sessions import LIFETIME, PageSessions
from .submissions import Check, NotPending, OwnSubmission, Submission, SubmissionTooLarge
from .tokens import Caller

if TYPE_CHECKING:
    from ..sheet import Format, Sheet
    from ..stats import ImplementationStats
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
    "PageSessions",
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


class Store:
    """One catalog's versions, its bundles, the API tokens and the cases, in one database."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        lock_timeout: float = 60,
        limits: Limits | None = None,
        gate: Gate | None = None,
        replicas: Sequence[str] = (),
        replica_wait: float = 0.2,
    ):
        """`lock_timeout`: seconds a publish waits for another writer before StoreBusy.
        `limits`: time limits on PostgreSQL calls (`catalog.store.limits`; by default those of
        a batch command: ordinary statements as long as a publish's); `gate`: a circuit breaker
        every PostgreSQL call asks first. `replicas`: hot standbys of a PostgreSQL `url` that
        answer the reads of a version they have replayed, waited for up to `replica_wait`
        seconds (`catalog.store.replicas`).
        StoreOutdated: a database this onething cannot read."""
        self.url = url
        self.lock_timeout = lock_timeout
        self.limits = limits or BATCH_LIMITS
        self.engine = connect(url, echo=echo, lock_timeout=lock_timeout, limits=self.limits, gate=gate)
        migrate(self.engine, Base.metadata.create_all)
        self.replicas: Replicas | None = None
        if replicas:
            if not all(u.startswith("postgresql") for u in (url, *replicas)):
                raise ValueError("read replicas are PostgreSQL hot standbys of a PostgreSQL store")
            self.replicas = Replicas(self.engine, replicas, limits=self.limits, wait=replica_wait)
        with self.engine.begin() as conn:
            present = {row for (row,) in conn.execute(sa.select(StateRow.id))}
            for row in (CATALOG_ROW, BUNDLES_ROW):
                if row not in present:
                    conn.execute(sa.insert(StateRow).values(id=row, counter=0))

    def dispose(self) -> None:
        self.engine.dispose()
        if self.replicas is not None:
            self.replicas.dispose()

    @functools.cached_property
    def cases(self) -> CaseStore:
        """The cases of §7, personal data sealed with the key the environment names."""
        from .cases import CaseStore, Sealer

        return CaseStore(self.engine, Sealer.from_env())

    def _read(self, version: int | None = None) -> AbstractContextManager[Connection]:
        """A connection for a read: of `version` — on a replica that has it, when there are
        replicas — or (None) of what changes in place, on the primary."""
        if version is None or self.replicas is None:
            return self.engine.connect()
        return self.replicas.connect(version)

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

    # -- publishing: every kind through `publish.publish_file`, its end passed as `finish` -----
    def _publish(self, path: str | Path, *, by: str, finish: Finish, **options: Any) -> Published:
        """The door: `path` published as the next version, `finish` run inside its transaction."""
        return publish_file(
            self.engine, path, by=by, lock_timeout=self.lock_timeout, finish=finish, **options
        )

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
        audited = functools.partial(audits.published, by=by, action="publish")
        options = {"note": note, "region": region, "progress": progress, "take_bundles": take_bundles}
        return self._publish(path, by=by, finish=audited, **options)

    def publish(
        self, catalog: Catalog, *, by: str = "", note: str = "", take_bundles: bool = False
    ) -> Published:
        """A catalog built in memory, published through the same path as a file."""
        with spooled(dump_lines(catalog)) as path:
            return self.publish_file(path, by=by, note=note, take_bundles=take_bundles)

    def republish(self, version: int, *, by: str = "", note: str = "") -> Published:
        """A new version with the content of `version` (history only grows, §6). KeyError when
        there is no such version."""
        if not 1 <= version <= self.revision():
            raise KeyError(version)
        audited = functools.partial(audits.published, by=by, action="republish", source=version)
        with spooled(self.export(version)) as path:
            return self._publish(
                path, by=by, finish=audited, note=note or f"version {version} again", source=version
            )

    def publish_sheet(
        self, path: str | Path, fmt: Format, *, by: str = "", **options: Any
    ) -> tuple[Published, Sheet]:
        """A region's sheet as the next version (`sheets.publish_sheet`: note, region, progress)."""
        return sheets.publish_sheet(self, path, fmt, by=by, **options)

    def submit_sheet(
        self, path: str | Path, fmt: Format, *, by: str, max_bytes: int, **options: Any
    ) -> tuple[Submission, Check, Sheet]:
        """A region's sheet held for approval (`sheets.submit_sheet`: note, region)."""
        return sheets.submit_sheet(self, path, fmt, by=by, max_bytes=max_bytes, **options)

    def export_sheet(
        self, out: BinaryIO | str | Path, fmt: Format, region: str, version: int, **options: Any
    ) -> int:
        """`region`'s sheet of `version` (`sheets.export_sheet`); the rows written."""
        return sheets.export_sheet(self, out, fmt, region, version, **options)

    # -- reading a version -------------------------------------------------------------------
    def diff(self, a: int, b: int) -> reads.Diff:
        """The whole diff in memory — for a small one; `diff_counts` and `diff_segment` page a
        national one."""
        with self._read(max(a, b)) as conn:
            return reads.diff(conn, a, b)

    def diff_counts(self, a: int, b: int) -> dict[str, dict[str, int]]:
        """kind → {added, removed, changed} from version a to b (§6's diff, counted)."""
        with self._read(max(a, b)) as conn:
            return reads.diff_counts(conn, a, b)

    def diff_segment(
        self, a: int, b: int, kind: str, change: str, offset: int, limit: int, after: str | None = None
    ) -> list[tuple[str, Any]]:
        """One page of a kind's added, removed or changed records, keys past `after`: (key,
        changed fields or None)."""
        with self._read(max(a, b)) as conn:
            return reads.diff_segment(conn, a, b, kind, change, offset, limit, after)

    def versions(self) -> list[VersionInfo]:
        with self._read() as conn:
            return reads.versions(conn)

    def tag(self, version: int) -> str | None:
        with self._read(version) as conn:
            row = reads.version_row(conn, version)
            return None if row is None else row.tag

    def submitted_region(self, version: int) -> str | None:
        """The region whose partial submission made the version (its small records are the
        previous version's: a partial writes implementations only); None for a whole catalog."""
        with self._read() as conn:
            row = reads.version_row(conn, version)
            return None if row is None else row.region

    def dictionaries(self, version: int, *, local: bool = True) -> Catalog:
        """The small records of a version: everything but implementations and bundles (without
        `local`, also without townships, villages and service points: `reads.dictionaries`)."""
        with self._read(version) as conn:
            return reads.dictionaries(conn, version, local=local)

    def local_exceeds(self, version: int, limit: int) -> bool:
        """Whether the version has more than `limit` townships, villages and service points."""
        with self._read(version) as conn:
            return reads.local_exceeds(conn, version, limit)

    def local_count(self, version: int) -> tuple[int, int]:
        """(townships and villages, service points) of the version."""
        with self._read(version) as conn:
            return reads.local_count(conn, version)

    def region_chain(self, version: int, code: str, known: Collection[str] = ()) -> list[Region]:
        """`code` and its ancestors up to the first in `known`, nearest first (`reads.region_chain`)."""
        with self._read(version) as conn:
            return reads.region_chain(conn, version, code, known)

    def regions_under(self, version: int, parents: Collection[str]) -> dict[str, list[Region]]:
        """The regions directly under each of `parents`, in code order (`reads.regions_under`)."""
        with self._read(version) as conn:
            return reads.regions_under(conn, version, parents)

    def children_counts(self, version: int, parents: Collection[str]) -> dict[str, int]:
        """How many regions stand directly under each of `parents`."""
        with self._read(version) as conn:
            return reads.children_counts(conn, version, parents)

    def regions_page(self, version: int, length: int | None, after: str | None, limit: int) -> list[Region]:
        """A page of regions in code order (`reads.regions_page`)."""
        with self._read(version) as conn:
            return reads.regions_page(conn, version, length, after, limit)

    def region_count(self, version: int, length: int | None) -> int:
        """How many regions the version has (whose code has `length` digits, when given)."""
        with self._read(version) as conn:
            return reads.region_count(conn, version, length)

    def service_points_in(self, version: int, regions: Collection[str]) -> dict[str, ServicePoint]:
        """The service points standing in `regions`, by id."""
        with self._read(version) as conn:
            return reads.service_points_in(conn, version, regions)

    def within(
        self, version: int, held: Mapping[str, Region], root: str | None, points: bool = True
    ) -> tuple[dict[str, Region], dict[str, ServicePoint]]:
        """`root`'s subtree and (with `points`) the service points in it, `held` and the rest
        read by code range (`reads.within`)."""
        with self._read(version) as conn:
            return reads.within(conn, version, held, root, points)

    def implementations(
        self,
        version: int,
        *,
        regions: Sequence[str] | None = None,
        items: Sequence[str] | None = None,
        codes: Sequence[str] | None = None,
    ) -> list[Implementation]:
        with self._read(version) as conn:
            return reads.implementations(conn, version, regions=regions, items=items, codes=codes)

    def placements(self, version: int, path: Sequence[str]) -> list[reads.Placement]:
        """Each item's implementation nearest the first region of `path` (`reads.placements`),
        with what a list of a region's items shows."""
        with self._read(version) as conn:
            return reads.placements(conn, version, path)

    def implementations_within(
        self, version: int, regions: Collection[str] | None
    ) -> Iterator[Implementation]:
        """The implementations of `regions` (a subtree) through the region index, or (None) every
        one of the version, streamed either way."""
        if regions is not None:
            yield from self.region_implementations(version, regions)
            return
        with self._read(version) as conn:
            yield from reads.every_implementation(conn, version)

    def region_implementations(self, version: int, regions: Collection[str]) -> Iterator[Implementation]:
        """The implementations of `regions` (a subtree), streamed region by region, each by item
        and code: what a region's sheet lists."""
        with self._read(version) as conn:
            yield from reads.region_implementations(conn, version, regions)

    def item_implementations(
        self, version: int, item: str, *, limit: int, offset: int = 0
    ) -> tuple[int, list[tuple[Implementation, int | None]]]:
        with self._read(version) as conn:
            return reads.item_implementations(conn, version, item, limit, offset)

    def implementation(self, version: int, code: str) -> tuple[Implementation, int | None] | None:
        with self._read(version) as conn:
            return reads.implementation(conn, version, code)

    def findings(self, version: int, **filters: Any) -> tuple[int, list[reads.StoredFinding]]:
        with self._read(version) as conn:
            return reads.findings(conn, version, **filters)

    def rule_counts(self, version: int) -> dict[str, int]:
        with self._read(version) as conn:
            return reads.rule_counts(conn, version)

    def finding_totals(self, version: int) -> tuple[int, int]:
        """(errors, warnings) of a version's report."""
        with self._read(version) as conn:
            return reads.finding_totals(conn, version)

    def conformity(
        self, version: int, prefix: str | None = None, regions: Collection[str] | None = None
    ) -> list[Conformity]:
        """The version's conformity rows (with `prefix`: of the regions whose code starts with it;
        with `regions`: of those)."""
        with self._read(version) as conn:
            return reads.conformity(conn, version, prefix, regions)

    def figures(
        self, version: int, catalog: Catalog, region: str | None, *, whole: bool = True
    ) -> ImplementationStats | None:
        """The implementations' statistics of `version` (`catalog`: its small records) for
        `region` and those under it (None: all), read from the figures written at publish; None
        for a version published before figures were kept (count its implementations instead).
        Unless `whole`, `catalog` is a lean view's, without townships, villages and service
        points: those of `region`'s subtree are read by code range (`reads.within`)."""
        from ..stats import region_stats
        from ..tree import subtree

        with self._read(version) as conn:
            if not figures.kept(conn, version):
                return None
            if not whole:
                regions, points = reads.within(conn, version, catalog.regions, region)
                catalog = msgspec.structs.replace(catalog, regions=regions, service_points=points)
            within = None if region is None else subtree(catalog.regions, region)
            own = figures.region_figures(conn, version, within)
            divergence = figures.item_figures(conn, version, catalog, region)
        return region_stats(catalog.regions, catalog.items, own, divergence, region, catalog.service_points)

    def item_counts(self, version: int) -> dict[str, int]:
        with self._read(version) as conn:
            return reads.item_counts(conn, version)

    def export(self, version: int | None = None) -> Iterator[bytes]:
        """A version as JSONL lines (the newest by default), streamed."""
        if version is None:
            with self._read() as conn:
                version = reads.heads(conn)[0]
        with self._read(version) as conn:
            yield from reads.export(conn, version)

    def catalog(self, version: int | None = None) -> Catalog | None:
        """A whole version in memory with the stored bundles — for tests and small tools only;
        the service never calls it. None before the first publish."""
        with self._read() as conn:
            version = reads.heads(conn)[0] if version is None else version
            return None if version == 0 else reads.whole(conn, version)

    # -- the needs-review queue ----------------------------------------------------------------
    def review(
        self, version: int | None = None, *, region: str | None = None
    ) -> tuple[int, list[reads.Flag]]:
        """(version, its needs-review queue), the newest by default; `region` keeps its subtree."""
        with self._read(version) as conn:
            return review_queue.queue(conn, version, region)

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
        with self._read(version) as conn:
            return review_queue.review_page(
                conn, version, regions=regions, rule=rule, item=item, limit=limit, offset=offset
            )

    # -- bundles (the designers' writes) -------------------------------------------------------
    def bundles(self) -> list[StoredBundle]:
        with self._read() as conn:
            return bundle_writes.every(conn)

    def bundle(self, bundle_id: str) -> StoredBundle | None:
        with self._read() as conn:
            return bundle_writes.one(conn, bundle_id)

    def create_bundle(self, bundle: Bundle, check: Callable[[Bundle], None] | None = None) -> StoredBundle:
        """`check` runs inside the write, against what is then published (a publish waits)."""
        return bundle_writes.create(self.engine, bundle, check)

    def replace_bundle(
        self, bundle: Bundle, if_version: int, check: Callable[[Bundle], None] | None = None
    ) -> StoredBundle:
        """Compare-and-set on the version: of two writers holding the same version, one wins."""
        return bundle_writes.replace(self.engine, bundle, if_version, check)

    def delete_bundle(self, bundle_id: str, if_version: int | None) -> None:
        bundle_writes.delete(self.engine, bundle_id, if_version)

    # -- tokens and page sessions ----------------------------------------------------------------
    def create_token(
        self, name: str, role: str, *, region: str | None = None, agency: str | None = None, by: str = ""
    ) -> str:
        """A new bearer token for `role` (`tokens.create`); the secret is returned once."""
        return tokens.create(self.engine, name, role, region=region, agency=agency, by=by)

    def token_role(self, token: str) -> str | None:
        caller = self.token_caller(token)
        return None if caller is None else caller.role

    def token_caller(self, token: str) -> Caller | None:
        """Who holds the token (name, role, region), or None for an unknown or revoked one.
        (On every request's path: a server that does not answer within `limits.quick` is hung.)"""
        with self.quick(), self._read() as conn:
            return tokens.caller(conn, token)

    def tokens(self) -> list[tuple[str, str, str | None, datetime]]:
        """(name, role, region, created) of every token — never the secret, which is not kept."""
        with self._read() as conn:
            return tokens.listing(conn)

    def revoke_tokens(self, name: str, *, by: str = "") -> int:
        return tokens.revoke(self.engine, name, by=by)

    def page_sessions(self, lifetime: int = LIFETIME) -> PageSessions:
        """The page sessions (`sessions`), each lasting `lifetime` seconds."""
        return PageSessions(self.engine, lifetime)

    # -- submissions held for approval, and the dry run ------------------------------------------
    def check_file(self, path: str | Path, *, region: str | None = None) -> Check:
        """What publishing the file would do now — the same publish, rolled back."""
        return submissions.check_file(self.engine, path, region=region, lock_timeout=self.lock_timeout)

    def submit(
        self, path: str | Path, *, by: str, note: str = "", region: str | None = None, max_bytes: int
    ) -> tuple[Submission, Check]:
        """Hold a file for approval (at most `max_bytes`, else SubmissionTooLarge), checked now."""
        return submissions.submit(
            self.engine,
            path,
            by=by,
            note=note,
            region=region,
            max_bytes=max_bytes,
            lock_timeout=self.lock_timeout,
        )

    def submission(self, sid: int) -> tuple[Submission, Check] | None:
        with self._read() as conn:
            return submissions.submission(conn, sid)

    def submission_file(self, sid: int) -> bytes | None:
        """The held file as it was sent."""
        with self._read() as conn:
            return submissions.submission_file(conn, sid)

    def submissions(
        self,
        *,
        state: str | None = None,
        regions: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[Submission]]:
        with self._read() as conn:
            return submissions.submissions(conn, state=state, regions=regions, limit=limit, offset=offset)

    def recheck(self, sid: int) -> tuple[Submission, Check] | None:
        """A pending submission checked again when the catalog moved on since its last check."""
        return submissions.recheck(self.engine, sid, lock_timeout=self.lock_timeout)

    def approve(self, sid: int, *, by: str, override: bool = False) -> Published:
        """Publish a pending submission if §6 lets it through now (`submissions.approve`)."""
        return submissions.approve(self.engine, sid, by=by, override=override, lock_timeout=self.lock_timeout)

    def reject(self, sid: int, *, by: str, reason: str) -> Submission:
        return submissions.reject(self.engine, sid, by=by, reason=reason)

    # -- the audit -------------------------------------------------------------------------------
    def audit(
        self, *, action: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[AuditEvent]]:
        """Who did what, newest first."""
        with self._read() as conn:
            return audits.audit_events(conn, action=action, limit=limit, offset=offset)
