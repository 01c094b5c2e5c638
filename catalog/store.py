"""The catalog store: an SQLAlchemy adapter that saves one catalog and loads one.

SQLite (a file, the default) and PostgreSQL run the same code. The core never
sees a row: records go in as `catalog.model` Structs and come out decoded
into them again (`msgspec.convert`, typed), with the line each record had in
the file it was published from, so a reviewer's report from the store still
points into that file.

Writes follow one discipline: each is one transaction that also bumps the
store's `revision`, so every reader (and every API instance sharing the
database) can tell with one cheap query whether what it holds is current.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from .findings import Report
from .model import (
    Agency,
    Bundle,
    Catalog,
    Field,
    Header,
    Implementation,
    Item,
    Material,
    Region,
    Requirement,
)

ROLES = ("portal", "designer", "reviewer", "admin")


class Base(DeclarativeBase):
    type_annotation_map = {list[str]: sa.JSON, list[dict[str, Any]]: sa.JSON}  # noqa: RUF012


class StateRow(Base):
    """One row: the published header and the write counter."""

    __tablename__ = "onething_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(default=0)
    format: Mapped[str | None]
    version: Mapped[str | None]
    title: Mapped[str | None]
    header_line: Mapped[int | None]
    published_at: Mapped[datetime | None]


class RegionRow(Base):
    __tablename__ = "region"
    code: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    name: Mapped[str]
    level: Mapped[str] = mapped_column(sa.String(16))
    parent: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    line: Mapped[int | None]


class MaterialRow(Base):
    __tablename__ = "material"
    id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    name: Mapped[str]
    category: Mapped[str] = mapped_column(sa.String(16))
    aliases: Mapped[list[str]]
    e_license: Mapped[bool]
    commitment: Mapped[bool]
    line: Mapped[int | None]


class FieldRow(Base):
    __tablename__ = "field"
    id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    label: Mapped[str]
    type: Mapped[str] = mapped_column(sa.String(16))
    choices: Mapped[list[str] | None] = mapped_column(sa.JSON)
    line: Mapped[int | None]


class ItemRow(Base):
    __tablename__ = "item"
    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(index=True)
    type: Mapped[str] = mapped_column(sa.String(2))
    basis: Mapped[list[str]]
    owner: Mapped[str] = mapped_column(sa.String(16))
    main: Mapped[str | None] = mapped_column(sa.String(32))
    levels: Mapped[list[str]]
    materials: Mapped[list[dict[str, Any]]]
    outputs: Mapped[list[str]]
    requires: Mapped[list[str]]
    fields: Mapped[list[str]]
    statutory_days: Mapped[int]
    line: Mapped[int | None]


class ImplementationRow(Base):
    __tablename__ = "implementation"
    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    item: Mapped[str] = mapped_column(sa.String(32), index=True)
    region: Mapped[str] = mapped_column(sa.String(16), index=True)
    agency_name: Mapped[str]
    agency_uscc: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str]
    type: Mapped[str] = mapped_column(sa.String(2))
    basis: Mapped[list[str]]
    materials: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    statutory_days: Mapped[int]
    promised_days: Mapped[int]
    visits: Mapped[int]
    online_depth: Mapped[int]
    fee: Mapped[float]
    window: Mapped[str]
    line: Mapped[int | None]


class BundleRow(Base):
    __tablename__ = "bundle"
    id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    name: Mapped[str]
    items: Mapped[list[str]]
    description: Mapped[str]
    version: Mapped[int]
    line: Mapped[int | None]


class TokenRow(Base):
    """An API token, kept only as the SHA-256 of the secret (tokens are 256-bit random)."""

    __tablename__ = "api_token"
    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str]
    role: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime]


class StoredBundle(msgspec.Struct, frozen=True):
    bundle: Bundle
    version: int


class BundleExists(Exception):
    """Creating a bundle whose id is taken."""


class BundleNotFound(Exception):
    """Replacing or deleting a bundle that is not there."""


class RevisionMoved(Exception):
    """A publish checked against one state of the store found another when it wrote."""


class VersionConflict(Exception):
    """A write based on a version that is no longer the bundle's (a lost update averted)."""

    def __init__(self, bundle_id: str, current: int):
        super().__init__(f"bundle {bundle_id} is at version {current}")
        self.current = current


# Record Struct <-> row: one pair of functions per kind, so the schema and the
# model can be read side by side.
def _requirements_out(reqs: list[Requirement] | None) -> list[dict[str, Any]] | None:
    return None if reqs is None else msgspec.to_builtins(reqs)


def _region_row(r: Region, line: int | None) -> dict[str, Any]:
    return {"code": r.code, "name": r.name, "level": r.level, "parent": r.parent, "line": line}


def _material_row(m: Material, line: int | None) -> dict[str, Any]:
    return {
        "id": m.id,
        "name": m.name,
        "category": m.category,
        "aliases": list(m.aliases),
        "e_license": m.e_license,
        "commitment": m.commitment,
        "line": line,
    }


def _field_row(f: Field, line: int | None) -> dict[str, Any]:
    return {"id": f.id, "label": f.label, "type": f.type, "choices": f.choices, "line": line}


def _item_row(i: Item, line: int | None) -> dict[str, Any]:
    return {
        "code": i.code,
        "name": i.name,
        "type": i.type,
        "basis": list(i.basis),
        "owner": i.owner,
        "main": i.main,
        "levels": list(i.levels),
        "materials": _requirements_out(i.materials),
        "outputs": list(i.outputs),
        "requires": list(i.requires),
        "fields": list(i.fields),
        "statutory_days": i.statutory_days,
        "line": line,
    }


def _implementation_row(m: Implementation, line: int | None) -> dict[str, Any]:
    return {
        "code": m.code,
        "item": m.item,
        "region": m.region,
        "agency_name": m.agency.name,
        "agency_uscc": m.agency.uscc,
        "name": m.name,
        "type": m.type,
        "basis": list(m.basis),
        "materials": _requirements_out(m.materials),
        "statutory_days": m.statutory_days,
        "promised_days": m.promised_days,
        "visits": m.visits,
        "online_depth": m.online_depth,
        "fee": float(m.fee),
        "window": m.window,
        "line": line,
    }


def _bundle_row(b: Bundle, line: int | None, version: int) -> dict[str, Any]:
    return {
        "id": b.id,
        "name": b.name,
        "items": list(b.items),
        "description": b.description,
        "version": version,
        "line": line,
    }


def _record(cls: type, row: Any, **renamed: Any) -> Any:
    """A row decoded into its record Struct, typed: the store is a boundary like a file."""
    names = msgspec.structs.fields(cls)
    data = {f.name: getattr(row, f.name) for f in names if f.name not in renamed}
    data.update(renamed)
    return msgspec.convert(data, cls)


def _implementation(row: ImplementationRow) -> Implementation:
    return _record(Implementation, row, agency=Agency(row.agency_name, row.agency_uscc))


def _bundle(row: BundleRow) -> Bundle:
    return _record(Bundle, row)


# The tables a publish replaces wholesale, each with its row builder.
_REPLACED: tuple[tuple[type[Base], str, str, Callable[[Any, int | None], dict[str, Any]]], ...] = (
    (RegionRow, "regions", "region", _region_row),
    (MaterialRow, "materials", "material", _material_row),
    (FieldRow, "fields", "field", _field_row),
    (ItemRow, "items", "item", _item_row),
    (ImplementationRow, "implementations", "implementation", _implementation_row),
)

_CHUNK = 5000
_PUBLISH_ATTEMPTS = 5


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """One catalog in one database; see the module docstring for the write discipline."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("sqlite"):
            # Writers wait for each other instead of failing; WAL lets readers go on meanwhile.
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        with Session(self.engine) as session, session.begin():
            if session.get(StateRow, 1) is None:
                session.add(StateRow(id=1, revision=0))

    def dispose(self) -> None:
        self.engine.dispose()

    # -- reading ----------------------------------------------------------
    def revision(self) -> int:
        """Bumped by every write; what caches key on."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(StateRow.revision).where(StateRow.id == 1)).scalar_one()

    def catalog(self) -> Catalog | None:
        """The whole published catalog with its bundles, or None before the first publish."""
        with Session(self.engine) as session:
            state = session.get(StateRow, 1)
            if state is None or state.format is None:
                return None
            header = Header(format=state.format, version=state.version or "", title=state.title or "")
            lines: dict[str, dict[str, int]] = {}
            if state.header_line is not None:
                lines["catalog"] = {"": state.header_line}

            def table(row_cls: Any, kind: str, key: str, build: Callable[[Any], Any]) -> dict[str, Any]:
                out: dict[str, Any] = {}
                kind_lines: dict[str, int] = {}
                for row in session.scalars(sa.select(row_cls).order_by(getattr(row_cls, key))):
                    out[getattr(row, key)] = build(row)
                    if row.line is not None:
                        kind_lines[getattr(row, key)] = row.line
                if kind_lines:
                    lines[kind] = kind_lines
                return out

            return Catalog(
                header=header,
                regions=table(RegionRow, "region", "code", lambda r: _record(Region, r)),
                materials=table(MaterialRow, "material", "id", lambda r: _record(Material, r)),
                fields=table(FieldRow, "field", "id", lambda r: _record(Field, r)),
                items=table(ItemRow, "item", "code", lambda r: _record(Item, r)),
                implementations=table(ImplementationRow, "implementation", "code", _implementation),
                bundles=table(BundleRow, "bundle", "id", _bundle),
                lines=lines,
            )

    def bundles(self) -> list[StoredBundle]:
        with Session(self.engine) as session:
            rows = session.scalars(sa.select(BundleRow).order_by(BundleRow.id))
            return [StoredBundle(_bundle(row), row.version) for row in rows]

    def bundle(self, bundle_id: str) -> StoredBundle | None:
        with Session(self.engine) as session:
            row = session.get(BundleRow, bundle_id)
            return None if row is None else StoredBundle(_bundle(row), row.version)

    # -- publishing -------------------------------------------------------
    def with_stored_bundles(self, catalog: Catalog) -> Catalog:
        """What the store will hold once `catalog` is published: its records, plus the
        stored bundles it does not redefine. Validate this before publishing, so that a
        designer's bundle never ends up naming an item the new catalog dropped."""
        kept = {sb.bundle.id: sb.bundle for sb in self.bundles() if sb.bundle.id not in catalog.bundles}
        if not kept:
            return catalog
        return msgspec.structs.replace(catalog, bundles={**catalog.bundles, **kept})

    def publish_checked(
        self, catalog: Catalog, progress: Callable[[int, int], None] | None = None
    ) -> tuple[int | None, Report | None]:
        """Publish a catalog that is valid on its own, unless the stored bundles it keeps
        would break: then nothing changes. Returns (new revision or None, the report on
        the merged catalog, or None when no stored bundle is kept).

        The check and the write are tied by the revision, so a bundle a designer saves in
        between is checked too (the check is simply run again)."""
        from .validate import validate

        for _ in range(_PUBLISH_ATTEMPTS):
            seen = self.revision()
            merged = self.with_stored_bundles(catalog)
            report = None if merged is catalog else validate(merged)
            if report is not None and not report.ok:
                return None, report
            try:
                return self.publish(catalog, progress, expected_revision=seen), report
            except RevisionMoved:
                continue
        raise RevisionMoved(f"the store kept changing during {_PUBLISH_ATTEMPTS} attempts to publish")

    def publish(
        self,
        catalog: Catalog,
        progress: Callable[[int, int], None] | None = None,
        *,
        expected_revision: int | None = None,
    ) -> int:
        """Replace the published catalog in one transaction; the caller has validated it.

        Bundles in `catalog` are created or replaced (version +1 when changed); stored
        bundles it does not name are kept. With `expected_revision`, raises RevisionMoved
        (and writes nothing) when another write came first. Returns the new revision.
        """
        total = sum(len(getattr(catalog, attr)) for _, attr, _, _ in _REPLACED) + len(catalog.bundles)
        done = 0
        with Session(self.engine) as session, session.begin():
            # Bump first: the row lock (PostgreSQL) or the write lock (SQLite) is taken
            # before anything is read, so the revision compared is the one we replace.
            bump = sa.update(StateRow).where(StateRow.id == 1).values(revision=StateRow.revision + 1)
            if expected_revision is not None:
                bump = bump.where(StateRow.revision == expected_revision)
            if _rows_changed(session, bump) != 1:
                raise RevisionMoved(f"the store is no longer at revision {expected_revision}")
            state = session.get(StateRow, 1)
            assert state is not None
            for row_cls, attr, kind, build in _REPLACED:
                session.execute(sa.delete(row_cls))
                kind_lines = catalog.lines.get(kind, {})
                records = getattr(catalog, attr)
                for chunk in _chunks(records.items(), _CHUNK):
                    session.execute(
                        sa.insert(row_cls), [build(record, kind_lines.get(key)) for key, record in chunk]
                    )
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            bundle_lines = catalog.lines.get("bundle", {})
            for bundle_id, bundle in catalog.bundles.items():
                self._upsert_bundle(session, bundle, bundle_lines.get(bundle_id))
            if progress:
                progress(total, total)
            state.format = catalog.header.format
            state.version = catalog.header.version
            state.title = catalog.header.title
            state.header_line = catalog.line_of("catalog", None)
            state.published_at = datetime.now(UTC)
            return state.revision

    @staticmethod
    def _upsert_bundle(session: Session, bundle: Bundle, line: int | None) -> None:
        row = session.get(BundleRow, bundle.id)
        if row is None:
            session.add(BundleRow(**_bundle_row(bundle, line, 1)))
        elif _bundle(row) != bundle:
            for name, value in _bundle_row(bundle, line, row.version + 1).items():
                setattr(row, name, value)

    # -- bundles (the designers' writes) ----------------------------------
    def create_bundle(self, bundle: Bundle) -> StoredBundle:
        with Session(self.engine) as session, session.begin():
            if session.get(BundleRow, bundle.id) is not None:
                raise BundleExists(bundle.id)
            session.add(BundleRow(**_bundle_row(bundle, None, 1)))
            try:
                session.flush()
            except sa.exc.IntegrityError:
                raise BundleExists(bundle.id) from None
            self._bump(session)
        return StoredBundle(bundle, 1)

    def replace_bundle(self, bundle: Bundle, if_version: int) -> StoredBundle:
        """Compare-and-set on the version: of two writers holding the same version, one wins."""
        values = _bundle_row(bundle, None, if_version + 1)
        del values["line"]
        with Session(self.engine) as session, session.begin():
            update = (
                sa.update(BundleRow)
                .where(BundleRow.id == bundle.id, BundleRow.version == if_version)
                .values(**values)
            )
            if _rows_changed(session, update) != 1:
                self._raise_missing_or_stale(session, bundle.id)
            self._bump(session)
        return StoredBundle(bundle, if_version + 1)

    def delete_bundle(self, bundle_id: str, if_version: int | None) -> None:
        with Session(self.engine) as session, session.begin():
            query = sa.delete(BundleRow).where(BundleRow.id == bundle_id)
            if if_version is not None:
                query = query.where(BundleRow.version == if_version)
            if _rows_changed(session, query) != 1:
                self._raise_missing_or_stale(session, bundle_id)
            self._bump(session)

    @staticmethod
    def _raise_missing_or_stale(session: Session, bundle_id: str) -> None:
        current = session.execute(
            sa.select(BundleRow.version).where(BundleRow.id == bundle_id)
        ).scalar_one_or_none()
        if current is None:
            raise BundleNotFound(bundle_id)
        raise VersionConflict(bundle_id, current)

    @staticmethod
    def _bump(session: Session) -> None:
        session.execute(sa.update(StateRow).where(StateRow.id == 1).values(revision=StateRow.revision + 1))

    # -- tokens -----------------------------------------------------------
    def create_token(self, name: str, role: str) -> str:
        """A new bearer token for `role`; the secret is returned once and kept only as a hash."""
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        token = secrets.token_urlsafe(32)
        with Session(self.engine) as session, session.begin():
            session.add(TokenRow(digest=_digest(token), name=name, role=role, created_at=datetime.now(UTC)))
        return token

    def token_role(self, token: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(TokenRow.role).where(TokenRow.digest == _digest(token))
            ).scalar_one_or_none()

    def tokens(self) -> list[tuple[str, str, datetime]]:
        """(name, role, created) of every token — never the secret, which is not kept."""
        with Session(self.engine) as session:
            rows = session.scalars(sa.select(TokenRow).order_by(TokenRow.created_at))
            return [(row.name, row.role, row.created_at) for row in rows]

    def revoke_tokens(self, name: str) -> int:
        with Session(self.engine) as session, session.begin():
            return _rows_changed(session, sa.delete(TokenRow).where(TokenRow.name == name))


def _rows_changed(session: Session, statement: sa.Executable) -> int:
    """How many rows an UPDATE or DELETE touched: the compare-and-set verdict."""
    result = session.execute(statement)
    assert isinstance(result, sa.CursorResult)
    return result.rowcount


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _chunks(pairs: Iterable[tuple[str, Any]], size: int) -> Iterable[list[tuple[str, Any]]]:
    chunk: list[tuple[str, Any]] = []
    for pair in pairs:
        chunk.append(pair)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
