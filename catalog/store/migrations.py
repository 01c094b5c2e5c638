"""Schema changes as numbered migrations, applied in order when a store opens.

`schema_migration` holds the numbers a database has had. A store created fresh gets every table
as `schema` declares it and records the newest number; a database that already holds tables
runs each migration past its newest number (all of them, when it predates this table) in
order, one transaction each, and records it. A migration is a function of a connection and
does only what its database still needs, so one made before numbers were kept is safe to run.

A new schema change is one more function at the end of `MIGRATIONS` (a new table needs none:
opening the store creates the tables it lacks).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..model import record_decoder
from .cases import rebuild_figures
from .schema import CODE_LENGTH, CURRENT, RECORD_REGION, Base, RecordRow, SchemaMigrationRow, standing


class StoreOutdated(Exception):
    """The database holds tables of an earlier onething layout that this one cannot read."""


def _columns(conn: Connection, table: str) -> set[str] | None:
    found = sa.inspect(conn)
    if not found.has_table(table):
        return None
    return {c["name"] for c in found.get_columns(table)}


def _1_refuse_the_first_store(conn: Connection) -> None:
    """The first store kept one catalog without versions: nothing of it can be carried over."""
    columns = _columns(conn, "onething_state")
    if columns is not None and "counter" not in columns:
        url = conn.engine.url.render_as_string(hide_password=True)
        raise StoreOutdated(
            f"{url} was made by an earlier onething that kept one "
            "catalog without versions; publish into a new database (the default one: delete onething.db)"
        )


def _2_token_region(conn: Connection) -> None:
    """A token scoped to a region's subtree."""
    columns = _columns(conn, "api_token")
    if columns is not None and "region" not in columns:
        conn.exec_driver_sql("ALTER TABLE api_token ADD COLUMN region VARCHAR(16)")


def _3_token_agency(conn: Connection) -> None:
    """An agency's token, bound to its USCC."""
    columns = _columns(conn, "api_token")
    if columns is not None and "agency" not in columns:
        conn.exec_driver_sql("ALTER TABLE api_token ADD COLUMN agency VARCHAR(18)")


def _4_sqlite_current_index(conn: Connection) -> None:
    """On SQLite, the index that answers a republish's question of every line on its own."""
    if conn.dialect.name == "sqlite" and _columns(conn, "catalog_implementation") is not None:
        CURRENT.create(conn, checkfirst=True)


OLD_TALLIES = ("case_tally", "case_due_tally", "case_days_tally")
"""The first store of cases kept its figures per region code, unrolled, in these."""


def _5_rolled_figures(conn: Connection) -> None:
    """The rolled figure rows (`case_figure*`) counted from the cases and rectifications, for a
    store of cases made before them (it kept `OLD_TALLIES`, which go, or no rectification
    counters); a store that has them all is left as it is."""
    tables = set(sa.inspect(conn).get_table_names())
    if "case_file" not in tables:
        return
    figures = [t for t in Base.metadata.sorted_tables if t.name.startswith("case_figure")]
    if set(OLD_TALLIES) & tables or any(t.name not in tables for t in figures):
        for table in figures:
            table.create(conn, checkfirst=True)
        for name in OLD_TALLIES:
            if name in tables:
                conn.exec_driver_sql(f"DROP TABLE {name}")
        rebuild_figures(conn)


def _6_record_region(conn: Connection) -> None:
    """Where a small record stands (a service point's region, a region's parent), indexed: the
    five-level catalog's regions and points are read by it instead of held."""
    columns = _columns(conn, "catalog_record")
    if columns is None:
        return
    if "region" not in columns:
        conn.exec_driver_sql("ALTER TABLE catalog_record ADD COLUMN region VARCHAR(16)")
    # as `schema` declares them; IF NOT EXISTS, since SQLite does not reflect an expression index
    for name, indexed in ((RECORD_REGION.name, "kind, region"), (CODE_LENGTH.name, "kind, length(key)")):
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON catalog_record ({indexed})")
    rows = conn.execute(
        sa.select(RecordRow.kind, RecordRow.key, RecordRow.valid_from, RecordRow.body).where(
            RecordRow.kind.in_(("region", "service_point")), RecordRow.region.is_(None)
        )
    ).all()
    placed = [
        {"k": kind, "y": key, "f": valid_from, "r": standing(record_decoder.decode(body))}
        for kind, key, valid_from, body in rows
    ]
    placed = [p for p in placed if p["r"] is not None]
    if placed:
        conn.execute(
            sa.update(RecordRow)
            .where(
                RecordRow.kind == sa.bindparam("k"),
                RecordRow.key == sa.bindparam("y"),
                RecordRow.valid_from == sa.bindparam("f"),
            )
            .values(region=sa.bindparam("r")),
            placed,
        )


def _7_figures(conn: Connection) -> None:
    """Statistics' figures (`figures`), counted for the newest version of a store that has one
    (older versions' statistics are counted from their implementations, as before)."""
    from . import figures, reads
    from .schema import ItemFiguresRow, RegionFiguresRow

    for row in (RegionFiguresRow, ItemFiguresRow):
        row.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    if _columns(conn, "onething_state") is None:
        return
    newest = reads.heads(conn)[0]
    if newest and conn.execute(sa.select(RegionFiguresRow.region).limit(1)).first() is None:
        figures.count_all(conn, newest, reads.dictionaries(conn, newest))


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _1_refuse_the_first_store,
    _2_token_region,
    _3_token_agency,
    _4_sqlite_current_index,
    _5_rolled_figures,
    _6_record_region,
    _7_figures,
)
"""Migration n is `MIGRATIONS[n - 1]`."""

NEWEST = len(MIGRATIONS)


def applied(engine: Engine) -> int:
    """The newest migration number the database has had (0: none recorded)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(SchemaMigrationRow.__tablename__):
            return 0
        return conn.execute(sa.select(sa.func.max(SchemaMigrationRow.number))).scalar_one() or 0


def migrate(engine: Engine, create: Callable[[Engine], None]) -> None:
    """Bring the database to the newest layout: run the migrations it has not had (none for a
    fresh one), then `create` the tables it lacks, then record what it now is."""
    with engine.connect() as conn:
        fresh = not sa.inspect(conn).get_table_names()
    done = NEWEST if fresh else applied(engine)
    pending = list(range(done + 1, NEWEST + 1))
    for number in pending:
        with engine.begin() as conn:
            MIGRATIONS[number - 1](conn)
    create(engine)
    record = pending or ([NEWEST] if fresh else [])
    if not record:
        return
    try:
        with engine.begin() as conn:
            have = set(conn.scalars(sa.select(SchemaMigrationRow.number)))
            rows = [{"number": n, "applied_at": datetime.now(UTC)} for n in record if n not in have]
            if rows:
                conn.execute(sa.insert(SchemaMigrationRow), rows)
    except sa.exc.IntegrityError:  # another process opening the store recorded them first
        pass
