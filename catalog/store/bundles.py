"""The bundles designers write through the API: created, replaced (compare-and-set on their
version, so of two writers holding the same version one wins), deleted, read.

A bundle write first takes the bundles state row — never the catalog row: a publish takes that
one first, then this one, so the order is the same for everyone and none deadlocks another."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..model import Bundle, record_encoder
from . import reads
from .publish.writes import bundle_decoder
from .schema import BUNDLES_ROW, BundleGoneRow, BundleRow, StateRow


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


def every(conn: Connection) -> list[StoredBundle]:
    return [StoredBundle(bundle_decoder.decode(body), v) for _, body, v, _ in reads.bundles(conn)]


def one(conn: Connection, bundle_id: str) -> StoredBundle | None:
    row = conn.execute(sa.select(BundleRow.body, BundleRow.version).where(BundleRow.id == bundle_id)).first()
    return None if row is None else StoredBundle(bundle_decoder.decode(row[0]), row[1])


@contextmanager
def _bundle_write(engine: Engine) -> Iterator[Connection]:
    """A transaction that first takes the bundles row."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(StateRow).where(StateRow.id == BUNDLES_ROW).values(counter=StateRow.counter + 1)
        )
        yield conn


def create(engine: Engine, bundle: Bundle, check: Callable[[Bundle], None] | None) -> StoredBundle:
    """`check` runs inside the write, against what is then published (a publish waits)."""
    with _bundle_write(engine) as conn:
        if conn.execute(sa.select(BundleRow.id).where(BundleRow.id == bundle.id)).first() is not None:
            raise BundleExists(bundle.id)
        if check is not None:
            check(bundle)
        conn.execute(sa.insert(BundleRow).values(id=bundle.id, body=_body(bundle), version=1, line=None))
        conn.execute(sa.delete(BundleGoneRow).where(BundleGoneRow.id == bundle.id))
    return StoredBundle(bundle, 1)


def replace(
    engine: Engine, bundle: Bundle, if_version: int, check: Callable[[Bundle], None] | None
) -> StoredBundle:
    """Compare-and-set on the version: of two writers holding the same version, one wins."""
    with _bundle_write(engine) as conn:
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


def delete(engine: Engine, bundle_id: str, if_version: int | None) -> None:
    """Delete the bundle (at `if_version`, when given), remembered as deleted through the API."""
    with _bundle_write(engine) as conn:
        query = sa.delete(BundleRow).where(BundleRow.id == bundle_id)
        if if_version is not None:
            query = query.where(BundleRow.version == if_version)
        if conn.execute(query).rowcount != 1:
            _raise_missing_or_stale(conn, bundle_id)
        conn.execute(sa.delete(BundleGoneRow).where(BundleGoneRow.id == bundle_id))
        conn.execute(sa.insert(BundleGoneRow).values(id=bundle_id, deleted_at=datetime.now(UTC)))


def _body(bundle: Bundle) -> str:
    return record_encoder.encode(bundle).decode()


def _raise_missing_or_stale(conn: Connection, bundle_id: str) -> None:
    current = conn.execute(sa.select(BundleRow.version).where(BundleRow.id == bundle_id)).scalar_one_or_none()
    if current is None:
        raise BundleNotFound(bundle_id)
    raise VersionConflict(bundle_id, current)
