"""Benchmark: cases (§7) at a million, on SQLite or PostgreSQL, against targets and a floor from the same run.

    python bench/cases.py --db postgres --cases 1000000    # or --db sqlite, or an SQLAlchemy URL
    python bench/cases.py --db sqlite --cases 20000 --handins 10000

1. A store with the Ningxia catalog (fixtures/ningxia.jsonl) and N cases of the fixture's bundles
   (`fixtures.cases`: the same offers, answers and generated hand-in bodies), handed in over the
   last year's working days, with their tasks, events, ratings and rectifications, loaded by a
   **bulk path**: per (offer, day, fate) one template case is made by the pure rules (`casework`:
   `open_case`, `apply` for each event, `rate`), then copied under each case's own id and written
   in batches (PostgreSQL: one streaming COPY per table; SQLite: executemany, no journal), the
   tables' indexes built after the load, the personal data sealed per case (AES-GCM, the case id
   as associated data); the figures' counter rows are the templates' contributions
   times their counts, rolled up as the store keeps them (`case_figures.Rows`: per region scope
   at each level, per day and month) and written once by the same batches — what the store
   would hold had each case gone through it.
2. The API (`onething serve`: the real Litestar app under uvicorn, one worker, in a subprocess):
   - hand-in (`POST /cases`) of `--handins` generated bodies from `--clients` threads at once (4 by
     default), each a portal's backend with its bearer token (as hand-ins come in service: the default
     configuration, whose rate limit does not count tokens) on a kept-alive `http.client`
     connection, bodies encoded beforehand — the client shares the cores and is not what is
     measured, so it is kept cheap: throughput,
     p50/p95, the worker's CPU time per hand-in (steadier than throughput on a shared machine),
     — and the floor: the same rows (case and tasks, as the store wrote them) inserted
     again one transaction per case into tables with no index, in this process;
   - an agency's queue (`GET /agencies/{uscc}/tasks?state=ready&limit=50`, its token; paging on):
     p50;
   - the province's figures over a year (`GET /stats/cases?region=640000&from=&to=`): p50;
   - the worker's peak RSS (VmHWM).

It prints each figure next to its target, the machine, its load average, and the command; any
answer other than the one expected stops the run with it.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import platform
import random
import sqlite3
import statistics
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack, closing
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

# Run as a script, this file's folder would shadow the `api` package with the bench modules.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import msgspec
import sqlalchemy as sa

from api.cache import MemoryStore
from api.services.cases import china_today
from api.view import Views
from bench.common import ROOT, scratch_store, start_server, wait_until_ready
from casework import EventIn, HandIn, RatingIn, WorkCalendar, apply, check, open_case
from casework import rating as rating_rules
from catalog.store import Store, case_figures
from catalog.store.cases import Personal, Sealer, access_digest
from catalog.store.schema import CaseRow, CaseSerialRow, TaskRow
from fixtures.cases import counties, hand_in_body, offers, working_days

SENTINEL = "ZZZZ"
BATCH = 5000


# -- the bulk path --------------------------------------------------------------------------------


class Template:
    """One case made by the rules, its id ending in SENTINEL: the rows to copy per case."""

    __slots__ = (
        "case",
        "contribution",
        "day",
        "events",
        "form",
        "rating",
        "rectified",
        "rects",
        "region",
        "tasks",
    )

    def __init__(self) -> None:
        self.case: tuple = ()
        self.tasks: list[tuple] = []
        self.events: list[tuple] = []
        self.rating: tuple | None = None
        self.rects: list[tuple] = []
        self.contribution: Any = None
        self.rectified: Any = None
        self.form: Any = None
        """The rows as the load writes them (`CopyLoad.prepare`, `SqliteLoad.prepare`)."""


def make_template(
    offer: Any, plan: Any, day: date, fate: str, today: date, calendar: Any, rng: random.Random
):
    encode = msgspec.json.encode
    case_id = f"{offer.region}-{day:%Y%m%d}-{SENTINEL}"
    case, tasks = open_case(
        case_id,
        plan,
        region=offer.region,
        bundle=offer.bundle,
        revision=1,
        channel="window",
        service_point=f"{offer.region}-hall",
        today=day,
        calendar=calendar,
    )
    events: list[tuple] = []
    at = datetime(day.year, day.month, day.day, 9, 30)

    def act(task_id: str, event: str, when: date, **body: Any) -> None:
        nonlocal case, tasks
        move = apply(
            case,
            tasks,
            task_id,
            EventIn(event=event, key=f"k{len(events)}", **body),
            today=when,
            calendar=calendar,
        )
        case, tasks = move.case, move.tasks
        events.append(
            (
                task_id,
                f"k{len(events)}",
                event,
                at,
                "bench-agency",
                body.get("note", ""),
                encode(move.task.task).decode(),
            )
        )

    when = day
    if fate != "ready":
        for _ in range(12):
            ready = [t for t in tasks if t.task.state == "ready"]
            if not ready or case.state != "open":
                break
            for record in ready:
                if fate == "closed" and record.task.stage == 0 and record is ready[0]:
                    act(record.task.id, "reject", when, note="不符合办理条件。")
                    continue
                act(record.task.id, "accept", when)
                if fate == "partial":
                    continue
                done_on = min(
                    today, calendar.add_days(when, rng.randrange(0, record.task.promised_days + 1))[0]
                )
                act(
                    record.task.id,
                    "approve",
                    done_on,
                    outputs={m: f"{m[:3]}-{SENTINEL}" for m in record.outputs_of_item},
                )
                when = max(when, done_on)
            if fate == "partial":
                break
    rating = None
    rects: list[tuple] = []
    if fate in ("rated-good", "rated-bad") and case.state != "open":
        score = 5 if fate == "rated-good" else rng.choice((1, 2))
        rated_on = case.ended_on or day
        rating, opened = rating_rules.rate(
            case,
            tasks,
            RatingIn(score=score, comment="", tasks={tasks[0].task.id: score}),
            rated=False,
            today=rated_on,
            calendar=calendar,
        )
        for o in opened:
            rects.append(
                (
                    case_id,
                    o.task,
                    o.agency,
                    case.region,
                    case.bundle or "",
                    o.item or "",
                    case.handed_on,
                    o.score,
                    "跑了两趟。",
                    "open",
                    rated_on,
                    o.due,
                    o.due_provisional,
                    None,
                    None,
                )
            )
    t = Template()
    t.case = (
        case_id,
        case.region,
        case.bundle,
        case.state,
        case.handed_on,
        case.due,
        case.due_provisional,
        case.ended_on,
        encode(case).decode(),
    )
    t.tasks = [
        (
            r.task.id,
            r.case,
            r.task.agency,
            r.task.state,
            r.task.due,
            r.task.due_provisional,
            encode(r).decode(),
        )
        for r in tasks
    ]
    t.events = events
    if rating is not None:
        t.rating = (case_id, rating.score, rating.comment, encode(rating.tasks).decode(), rating.rated_on)
    t.rects = rects
    t.contribution = case_figures.contributions(case, tasks, rating)
    t.rectified = case_figures.Contribution()
    for r in rects:
        one = case_figures.rectified(
            {
                "day": r[6],
                "region": r[3],
                "bundle": r[4],
                "item": r[5],
                "agency": r[2],
                "state": r[9],
                "due": r[11],
            }
        )
        t.rectified.tally.update(one.tally)
        t.rectified.due.update(one.due)
    return t


def fate_of(rng: random.Random, age: int) -> str:
    """Older cases are mostly done; the last weeks' mostly open."""
    if age > 40:
        weights = (2, 3, 55, 25, 5, 10)
    elif age > 10:
        weights = (10, 15, 45, 15, 5, 10)
    else:
        weights = (40, 30, 20, 5, 1, 4)
    return rng.choices(("ready", "partial", "done", "rated-good", "rated-bad", "closed"), weights)[0]


class Writer:
    """Batched writes of plain rows: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, engine: Any, columns: dict[str, tuple[str, ...]]):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.columns = columns
        self.buffers: dict[str, list[tuple]] = {name: [] for name in self.columns}
        self.rows = Counter()

    def add(self, table: str, row: tuple) -> None:
        buffer = self.buffers[table]
        buffer.append(row)
        if len(buffer) >= BATCH:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        for name in [table] if table else list(self.buffers):
            rows = self.buffers[name]
            if not rows:
                continue
            columns = self.columns[name]
            with self.engine.begin() as conn:
                raw = conn.connection.driver_connection
                if self.pg:
                    names = ", ".join(f'"{c}"' for c in columns)
                    with raw.cursor() as cur, cur.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    cur = raw.cursor()
                    marks = ", ".join("?" * len(columns))
                    cur.executemany(
                        f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})",
                        [tuple(_sqlite(v) for v in row) for row in rows],
                    )
            self.rows[name] += len(rows)
            rows.clear()


def _sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


CASE_TABLES: dict[str, tuple[str, ...]] = {
    "case_file": (
        "id",
        "region",
        "bundle",
        "state",
        "handed_on",
        "due",
        "due_provisional",
        "ended_on",
        "body",
        "access",
        "sealed",
        "purged_on",
        "moves",
    ),
    "case_task": ("id", "case_id", "agency", "state", "due", "due_provisional", "body"),
    "case_event": ("task_id", "key", "event", "at", "by", "note", "answer"),
    "case_rating": ("case_id", "score", "comment", "tasks", "rated_on"),
    "case_rectification": (
        "case_id",
        "task_id",
        "agency",
        "region",
        "bundle",
        "item",
        "day",
        "score",
        "comment",
        "state",
        "opened_on",
        "due",
        "due_provisional",
        "finding",
        "action",
    ),
}
"""The tables a case's rows go to, and the columns written (a template's rows in this order)."""


def _copy_text(value: Any) -> str:
    """A value as COPY's text format writes it."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


class CopyLoad:
    """PostgreSQL: one COPY per table, each on its own connection and open for the whole load, fed
    a template's rows as COPY text with the case's serial put in (one `str.replace` per table and
    case, no row built in Python): the server parses and stores while this process makes the
    next cases, on the other core. The tables' indexes and keys are dropped for the load and built
    again after it, by sorting, rather than kept up row by row in random order."""

    def __init__(self, url: str):
        # no statement limit: each COPY lasts the whole load
        self.engine = sa.create_engine(url)
        self.stack = ExitStack()
        self.rows: Counter[str] = Counter()
        with self.engine.begin() as conn:
            self.rebuild = _pg_drop_indexes(conn, list(CASE_TABLES))
        self.copies: dict[str, Any] = {}
        for name, columns in CASE_TABLES.items():
            raw: Any = self.stack.enter_context(closing(self.engine.raw_connection())).driver_connection
            self.stack.callback(raw.commit)  # once its COPY has ended (an exit stack ends last first)
            cur = self.stack.enter_context(raw.cursor())
            names = ", ".join(f'"{c}"' for c in columns)
            self.copies[name] = self.stack.enter_context(cur.copy(f"COPY {name} ({names}) FROM STDIN"))

    def prepare(self, t: Template) -> None:
        """The template's rows as COPY text (its tuples let go: a million cases have many)."""
        t.form = (
            "\t".join(map(_copy_text, t.case)),
            [
                (name, "".join("\t".join(map(_copy_text, row)) + "\n" for row in rows), len(rows))
                for name, rows in (
                    ("case_task", t.tasks),
                    ("case_event", t.events),
                    ("case_rating", [t.rating] if t.rating else []),
                    ("case_rectification", t.rects),
                )
                if rows
            ],
        )
        t.tasks = t.events = t.rects = []
        t.rating = None

    def add(self, t: Template, serial: str, access: str, sealed: bytes) -> None:
        head, blocks = t.form
        copies = self.copies
        copies["case_file"].write(
            f"{head.replace(SENTINEL, serial)}\t{access}\t\\\\x{sealed.hex()}\t\\N\t0\n"
        )
        self.rows["case_file"] += 1
        for name, block, n in blocks:
            copies[name].write(block.replace(SENTINEL, serial))
            self.rows[name] += n

    def close(self) -> None:
        self.stack.close()
        with self.engine.begin() as conn:
            conn.exec_driver_sql("SET maintenance_work_mem = '256MB'")
            for statement in self.rebuild:
                conn.exec_driver_sql(statement)
        self.engine.dispose()


def _pg_drop_indexes(conn: Any, tables: list[str]) -> list[str]:
    """Drop the tables' indexes, keys and unique constraints: the statements that make them again."""
    schema_tables = "relnamespace = current_schema()::regnamespace AND relname = ANY(%(t)s)"
    constraints = conn.exec_driver_sql(
        "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
        f" WHERE contype IN ('p', 'u') AND conrelid IN (SELECT oid FROM pg_class WHERE {schema_tables})"
        " ORDER BY 2, 1",
        {"t": tables},
    ).all()
    owned = {name for name, _, _ in constraints}
    indexes = [
        (name, definition)
        for name, definition in conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND tablename = ANY(%(t)s) ORDER BY 1",
            {"t": tables},
        )
        if name not in owned
    ]
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    for name, table, _ in constraints:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return [
        *(
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            for name, table, definition in constraints
        ),
        *(definition for _, definition in indexes),
    ]


class SqliteLoad:
    """SQLite: executemany in big transactions on a connection of its own, no journal and no
    sync (a scratch store: a crash loses the run anyway), a large page cache; the tables' named
    indexes dropped for the load and made again after it (the keys and UNIQUE columns, part of
    each table's definition, stay)."""

    def __init__(self, url: str):
        self.conn = sqlite3.connect(str(sa.make_url(url).database), isolation_level=None)
        self.rows: Counter[str] = Counter()
        run = self.conn.execute
        run("PRAGMA journal_mode=OFF")
        run("PRAGMA synchronous=OFF")
        run("PRAGMA cache_size=-262144")  # 256 MiB
        marks = ", ".join("?" * len(CASE_TABLES))
        indexes = run(
            "SELECT name, sql FROM sqlite_master"
            f" WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks}) ORDER BY name",
            list(CASE_TABLES),
        ).fetchall()
        for name, _ in indexes:
            run(f'DROP INDEX "{name}"')
        self.rebuild = [sql for _, sql in indexes]
        self.statements = {
            name: f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            for name, columns in CASE_TABLES.items()
        }
        self.buffers: dict[str, list[tuple]] = {name: [] for name in CASE_TABLES}
        self.cases = 0

    def prepare(self, t: Template) -> None:
        """The template's values as the store's SQLite columns hold them."""

        def lite(rows: list[tuple]) -> list[tuple]:
            return [tuple(map(_sqlite, row)) for row in rows]

        t.form = (
            lite([t.case])[0],
            lite(t.tasks),
            lite(t.events),
            lite([t.rating] if t.rating else []),
            lite(t.rects),
        )
        t.tasks = t.events = t.rects = []
        t.rating = None

    def add(self, t: Template, serial: str, access: str, sealed: bytes) -> None:
        c, tasks, events, ratings, rects = t.form
        case_id = c[0].replace(SENTINEL, serial)
        b = self.buffers
        b["case_file"].append((case_id, *c[1:8], c[8].replace(SENTINEL, serial), access, sealed, None, 0))
        b["case_task"] += [
            (r[0].replace(SENTINEL, serial), case_id, *r[2:6], r[6].replace(SENTINEL, serial)) for r in tasks
        ]
        b["case_event"] += [
            (e[0].replace(SENTINEL, serial), *e[1:6], e[6].replace(SENTINEL, serial)) for e in events
        ]
        b["case_rating"] += [(case_id, *r[1:3], r[3].replace(SENTINEL, serial), r[4]) for r in ratings]
        b["case_rectification"] += [
            (case_id, r[1].replace(SENTINEL, serial) if r[1] else None, *r[2:]) for r in rects
        ]
        self.cases += 1
        if self.cases % BATCH == 0:
            self.flush()

    def flush(self) -> None:
        self.conn.execute("BEGIN")
        for name, rows in self.buffers.items():
            self.conn.executemany(self.statements[name], rows)
            self.rows[name] += len(rows)
            rows.clear()
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.flush()
        for statement in self.rebuild:
            self.conn.execute(statement)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.close()


def bulk_load(url: str, count: int, today: date, seed: int) -> dict:
    """N cases by the bulk path (see the module's docstring)."""
    start = time.perf_counter()
    store = Store(url)
    rng = random.Random(seed)
    service = Views(store, MemoryStore())

    async def prepare() -> tuple[list, dict]:
        view = await service.snapshot()
        every = await offers(service, view, counties(view.require()), rng)
        plans = {}
        for offer in every:
            part = await service.slice(
                view, view.require().bundles[offer.bundle].items, view.path(offer.region)
            )
            body = msgspec.convert(hand_in_body(rng, offer, today), HandIn)
            plans[offer.bundle, offer.region] = (check(body, offer.workflow, part), body)
        return every, plans

    every, plans = asyncio.run(prepare())
    service.close()
    # every bundle, in 兴庆区 and one other county: few enough offers that the templates (offer ×
    # day × fate) stay a small part of the load
    by_bundle: dict[str, list] = {}
    for offer in sorted(every, key=lambda o: (o.region != "640104", rng.random())):
        by_bundle.setdefault(offer.bundle, [])
        if len(by_bundle[offer.bundle]) < 2:
            by_bundle[offer.bundle].append(offer)
    every = [o for chosen in by_bundle.values() for o in chosen]
    calendar = WorkCalendar(store.cases.schedules())
    days = working_days(calendar, today - timedelta(days=1), 250)
    weights = [4 if o.region.startswith("6401") else 1 for o in every]
    templates: dict[tuple, Template] = {}
    serials: Counter[tuple[str, date]] = Counter()
    total = case_figures.Contribution()
    per_template: Counter[tuple] = Counter()
    sealer = store.cases.sealer
    store.engine.dispose()  # (SQLite: the load's connection turns the journal off)
    load = CopyLoad(url) if store.engine.dialect.name == "postgresql" else SqliteLoad(url)
    encode = msgspec.json.encode
    personal_of = {
        key: encode(Personal(applicant=body.applicant, form=plan.form)) for key, (plan, body) in plans.items()
    }
    for _ in range(count):
        offer = rng.choices(every, weights)[0]
        day = days[int(len(days) * rng.random() ** 0.7)]
        fate = fate_of(rng, (today - day).days)
        key = (offer.bundle, offer.region, day, fate)
        template = templates.get(key)
        if template is None:
            plan = plans[offer.bundle, offer.region][0]
            template = templates[key] = make_template(offer, plan, day, fate, today, calendar, rng)
            load.prepare(template)
        per_template[key] += 1
        serials[offer.region, day] += 1
        serial = f"{serials[offer.region, day]:04d}"
        case_id = template.case[0].replace(SENTINEL, serial)
        load.add(
            template,
            serial,
            access_digest(f"bench-{case_id}"),
            sealer.seal(personal_of[offer.bundle, offer.region], case_id),
        )
    load.close()
    for key, times in per_template.items():
        c = templates[key].contribution
        for counter, into in ((c.tally, total.tally), (c.due, total.due), (c.days, total.days)):
            for k, v in counter.items():
                into[k] += v * times
    bad = case_figures.Contribution()
    for key, times in per_template.items():
        r = templates[key].rectified
        for counter, into in ((r.tally, bad.tally), (r.due, bad.due)):
            for k, v in counter.items():
                into[k] += v * times
    tables = (*case_figures.TABLES, *case_figures.RECTIFICATION_TABLES)
    counters = Writer(store.engine, {t.name: (*keys, *c) for t, keys, c in tables})
    rows = (*case_figures.Rows(total).each(), *case_figures.rectification_rows(bad))
    for (table, _, _), rolled in zip(tables, rows, strict=True):
        for row in rolled:
            counters.add(table.name, row)
    counters.flush()
    with store.engine.begin() as conn:
        rows = [{"region": r, "day": d, "counter": n} for (r, d), n in serials.items()]
        for i in range(0, len(rows), BATCH):
            conn.execute(sa.insert(CaseSerialRow), rows[i : i + BATCH])
    if store.engine.dialect.name == "postgresql":
        # this store's tables, not the whole database's (other schemas, other runs)
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            names = conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).scalars()
            conn.exec_driver_sql(f"ANALYZE {', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)}")
    else:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    store.dispose()
    return {
        "seconds": time.perf_counter() - start,
        "rows": dict(load.rows + counters.rows),
        "templates": len(templates),
        "offers": len(every),
        "bundles": len({o.bundle for o in every}),
        "counties": len({o.region for o in every}),
    }


# -- the API --------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def vm(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Failed(Exception):
    """An answer other than the one expected: the run stops (`main`) — its figures would mean nothing."""


def expect(status: int, text: str, what: str, wanted: int = 200) -> None:
    if status != wanted:
        raise Failed(f"{what}: HTTP {status}, not {wanted} — {text[:500]}")


class HandInClient:
    """The hand-in's client: a portal's backend, with its bearer token (not counted by the rate
    limit), one kept-alive connection, the bodies encoded before the clock starts. Plain
    `http.client`, not httpx: the client shares the cores with the server, is not what is
    measured, and httpx cost ~1.1 ms of CPU per hand-in (half the worker's own)."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def post(self, body: bytes) -> str:
        """The new case's id; `Failed` on an answer other than 201."""
        self.conn.request("POST", "/cases", body, self.headers)
        answer = self.conn.getresponse()
        data = answer.read()
        expect(answer.status, data.decode(errors="replace"), "hand-in (POST /cases)", 201)
        return _case_id(data).id

    def close(self) -> None:
        self.conn.close()


class _Id(msgspec.Struct):
    id: str


_case_id = msgspec.json.Decoder(_Id).decode


def api_phase(url: str, handins: int, today: date, tmp: Path, seed: int, clients: int) -> dict:
    store = Store(url)
    service = Views(store, MemoryStore())
    rng = random.Random(seed + 1)

    async def prepare() -> list:
        view = await service.snapshot()
        return await offers(service, view, counties(view.require()), rng)

    every = asyncio.run(prepare())
    service.close()
    bodies = [msgspec.json.encode(hand_in_body(rng, rng.choice(every), today)) for _ in range(handins)]
    with store.engine.connect() as conn:
        busiest = conn.execute(
            sa.select(TaskRow.agency, sa.func.count())
            .where(TaskRow.state == "ready")
            .group_by(TaskRow.agency)
            .order_by(sa.func.count().desc())
            .limit(1)
        ).one()
    agency = busiest[0]
    token = store.create_token("bench-agency", "agency", agency=agency)
    portal = store.create_token("bench-portal", "portal")
    store.dispose()

    env = {**os.environ, "PYTHONPATH": str(ROOT), "ONETHING_TOKEN_TTL": "5"}
    server, base = start_server(url, tmp / "server.log", env)
    out: dict = {"agency": agency, "agency_ready": busiest[1]}
    try:
        client = httpx.Client(base_url=base, timeout=60)
        wait_until_ready(
            server,
            tmp / "server.log",
            lambda: client.get("/stats/cases", params={"region": "640000"}).status_code == 200,
        )
        port = int(base.rsplit(":", 1)[1])
        # warm: a few hand-ins (the workflow slices cached as they would be in service)
        warm = HandInClient(port, portal)
        for body in bodies[:50]:
            warm.post(body)
        warm.close()
        times: list[float] = []
        made: list[str] = []
        failed: list[str] = []
        lock = threading.Lock()
        work = iter(bodies[50:])

        def hand_in() -> None:
            local = HandInClient(port, portal)
            mine: list[float] = []
            ids: list[str] = []
            try:
                while not failed:
                    with lock:
                        body = next(work, None)
                    if body is None:
                        break
                    t0 = time.perf_counter()
                    ids.append(local.post(body))
                    mine.append(time.perf_counter() - t0)
            except (Failed, OSError, http.client.HTTPException) as exc:  # the main thread stops the run
                with lock:
                    failed.append(f"{type(exc).__name__}: {exc}")
            with lock:
                times.extend(mine)
                made.extend(ids)
            local.close()

        threads = [threading.Thread(target=hand_in) for _ in range(clients)]
        t, cpu = time.perf_counter(), cpu_seconds(server.pid)
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall, cpu = time.perf_counter() - t, cpu_seconds(server.pid) - cpu
        if failed:
            raise Failed(f"after {len(times):,} hand-ins: {failed[0]}")
        times.sort()
        out.update(
            handins=len(times),
            handin_per_s=len(times) / wall,
            handin_p50_ms=statistics.median(times) * 1e3,
            handin_p95_ms=percentile(times, 0.95) * 1e3,
            handin_cpu_ms=cpu / len(times) * 1e3,
            made=made,
        )
        # the agency's queue: first pages and following pages
        headers = {"Authorization": f"Bearer {token}"}
        queue: list[float] = []
        after = None
        for i in range(200):
            params = {"state": "ready", "limit": "50"}
            if after and i % 4:
                params["after"] = after
            t0 = time.perf_counter()
            r = client.get(f"/agencies/{agency}/tasks", params=params, headers=headers)
            queue.append(time.perf_counter() - t0)
            expect(r.status_code, r.text, "the agency's queue")
            after = r.json()["next"]
        queue.sort()
        out["queue_p50_ms"] = statistics.median(queue) * 1e3
        out["queue_p95_ms"] = percentile(queue, 0.95) * 1e3
        figures: list[float] = []
        span = {
            "region": "640000",
            "from": (today - timedelta(days=365)).isoformat(),
            "to": today.isoformat(),
        }
        for _ in range(30):
            t0 = time.perf_counter()
            r = client.get("/stats/cases", params=span)
            figures.append(time.perf_counter() - t0)
            expect(r.status_code, r.text, "the figures")
        figures.sort()
        out["figures_p50_ms"] = statistics.median(figures) * 1e3
        out["figures"] = r.json()
        out["worker_peak_mib"] = vm(server.pid, "VmHWM")
        out["worker_rss_mib"] = vm(server.pid, "VmRSS")
        client.close()
    finally:
        server.terminate()
        server.wait(10)
    return out


def bare_insert(url: str, case_ids: list[str]) -> dict:
    """The rows the hand-ins wrote (the case and its tasks), inserted again one transaction per
    case into tables with no index: the floor of a hand-in's write."""
    engine = sa.create_engine(url)
    case_t, task_t = CaseRow.__table__, TaskRow.__table__
    task_cols = ["id", "case_id", "agency", "state", "due", "due_provisional", "body"]
    meta = sa.MetaData()
    bare_case = sa.Table("bare_case", meta, *[sa.Column(c.name, c.type) for c in case_t.columns])
    bare_task = sa.Table("bare_task", meta, *[sa.Column(c, task_t.c[c].type) for c in task_cols])
    meta.drop_all(engine)
    meta.create_all(engine)
    rows: dict[str, tuple[dict, list[dict]]] = {}
    with engine.connect() as conn:
        ids = sorted(set(case_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for row in conn.execute(sa.select(case_t).where(case_t.c.id.in_(chunk))).mappings():
                rows[row["id"]] = (dict(row), [])
            for row in conn.execute(
                sa.select(*[task_t.c[c] for c in task_cols]).where(task_t.c.case_id.in_(chunk))
            ).mappings():
                rows[row["case_id"]][1].append(dict(row))
    insert_case, insert_task = sa.insert(bare_case), sa.insert(bare_task)
    t = time.perf_counter()
    for case_row, task_rows in rows.values():
        with engine.begin() as conn:
            conn.execute(insert_case, case_row)
            conn.execute(insert_task, task_rows)
    seconds = time.perf_counter() - t
    meta.drop_all(engine)
    engine.dispose()
    return {"per_s": len(rows) / seconds, "cases": len(rows)}


# -- main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres, or an SQLAlchemy URL")
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases in the store (default 1,000,000)")
    parser.add_argument(
        "--handins", type=int, default=10_000, help="hand-ins through the API (default 10,000)"
    )
    parser.add_argument(
        "--clients", type=int, default=4, help="client threads handing in at once (default 4)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    os.environ["ONETHING_CASE_KEY"] = Sealer.new_key()
    os.environ.pop("ONETHING_NATS_URL", None)
    today = china_today()
    with scratch_store(args.db, "cases") as (url, tmp):
        load = os.getloadavg()
        print(
            f"# onething bench/cases.py — {platform.node()}, {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, {platform.platform()}"
        )
        print(f"# load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (a shared machine)")
        print(
            f"# command: python bench/cases.py --db {args.db} --cases {args.cases} --handins {args.handins} --seed {args.seed} --clients {args.clients}"
        )
        store = Store(url)
        store.publish_file(ROOT / "fixtures" / "ningxia.jsonl")
        store.dispose()
        bulk = bulk_load(url, args.cases, today, args.seed)
        rows = bulk["rows"]
        print(
            f"bulk load:   {args.cases:,} cases in {bulk['seconds']:.1f} s ({bulk['bundles']} bundles × "
            f"{bulk['counties']} counties = {bulk['offers']} offers, {bulk['templates']:,} templates): "
            f"{rows.get('case_task', 0):,} tasks, {rows.get('case_event', 0):,} events, "
            f"{rows.get('case_rating', 0):,} ratings, {rows.get('case_rectification', 0):,} rectifications"
        )
        try:
            api = api_phase(url, args.handins, today, tmp, args.seed, args.clients)
        except Failed as exc:
            raise SystemExit(f"bench/cases.py stopped: {exc}") from None
        bare = bare_insert(url, api.pop("made"))

        def ok(met: bool) -> str:
            return "met" if met else "NOT met"

        print(
            f"hand-in (POST /cases, {args.clients} client threads, one uvicorn worker): {api['handins']:,} cases, "
            f"{api['handin_per_s']:.0f} cases/s [target ≥ 300: {ok(api['handin_per_s'] >= 300)}], "
            f"p50 {api['handin_p50_ms']:.1f} ms [target ≤ 20: {ok(api['handin_p50_ms'] <= 20)}], "
            f"p95 {api['handin_p95_ms']:.1f} ms; the worker's CPU {api['handin_cpu_ms']:.2f} ms per hand-in "
            "(its own, whatever else the machine runs)"
        )
        print(
            f"bare insert of the same rows (case + tasks, one transaction per case, no index): "
            f"{bare['per_s']:.0f} cases/s; hand-in / bare = {api['handin_per_s'] / bare['per_s']:.2f}"
        )
        print(
            f"agency queue (state=ready, limit=50, {api['agency_ready']:,} ready tasks): p50 "
            f"{api['queue_p50_ms']:.1f} ms [target ≤ 10: {ok(api['queue_p50_ms'] <= 10)}], p95 {api['queue_p95_ms']:.1f} ms"
        )
        f = api["figures"]
        print(
            f"figures (GET /stats/cases, region 640000, a year): p50 {api['figures_p50_ms']:.1f} ms "
            f"[target ≤ 100: {ok(api['figures_p50_ms'] <= 100)}] — {f['cases']:,} cases, {f['open']:,} open, "
            f"{f['overdue']:,} overdue, {f['ratings']:,} ratings, {f['bad']:,} bad"
        )
        print(
            f"worker peak RSS (VmHWM): {api['worker_peak_mib']:.0f} MiB "
            f"[target ≤ 400: {ok(api['worker_peak_mib'] <= 400)}]"
        )
        end = os.getloadavg()
        print(f"# load average at end: {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
