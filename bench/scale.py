"""Benchmark: the versioned store and the API at national scale, against floors from the same run.

    python bench/scale.py --rows 1000000 --db postgres     # or --db sqlite, or an SQLAlchemy URL
    python bench/scale.py --rows 4000000 --db postgres --skip-api
    python bench/scale.py --rows 5000000 --db postgres --levels 5   # townships, villages, service points

On a catalog from `fixtures.generate` (kept in a temporary directory) it measures, each
heavy phase in its own subprocess so that its peak RSS is its own:

- floors: a typed msgspec decode of the whole file (GC paused); a raw bulk load of the same
  implementation lines into a table with no index (PostgreSQL: COPY as JSONB into an UNLOGGED
  table; SQLite: batched INSERTs of the text into a plain table);
- the first publish (time, peak RSS) and the ratio to decode floor + load floor;
- a republish with 1,000 implementations changed, and its ratio to the first publish;
- one county's partial submission (its ~1,300 implementations, a few changed); at five levels
  one township's (its own rows and its villages');
- the API on that store (`onething serve`, one worker): process start to the first
  workflow, worker RSS, uncached workflow p50/p95 over random (bundle, county) pairs — at five
  levels (bundle, village) pairs, the applicant's chain walking village → township → county … —
  the first read after a bundle save, and the slowest read while that submission publishes.

It prints each figure next to its target and the command that reproduces the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

# Run as a script, this file's folder would shadow the `api` package with the bench modules.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, scratch_store, start_server, wait_until_ready

# -- phases, each run in a subprocess: `python bench/scale.py --phase NAME ...` ----------------
# Each phase reports its peak RSS, so each imports only what it uses, inside it: SQLAlchemy and
# httpx at the top would count in every phase (+21 and +18 MiB over a bare interpreter's 10 MiB,
# measured with `ru_maxrss`).


def phase_decode(path: str) -> dict:
    from catalog.load import gc_paused
    from catalog.model import record_decoder

    decode = record_decoder.decode
    records = 0
    start = time.perf_counter()
    with open(path, "rb") as fh, gc_paused():
        for raw in fh:
            decode(raw)
            records += 1
    return {"seconds": time.perf_counter() - start, "records": records}


def phase_load_floor(path: str, url: str) -> dict:
    """The implementation lines, as they are, into a table with no index: what any bulk write
    of them costs on this database."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    start = time.perf_counter()
    rows = 0
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP TABLE IF EXISTS bench_floor")
            conn.exec_driver_sql("CREATE UNLOGGED TABLE bench_floor (body jsonb)")
            with cursor.copy("COPY bench_floor FROM STDIN") as copy, open(path, "rb") as fh:
                buffer: list[bytes] = []
                size = 0
                for raw in fh:
                    if b'"implementation"' not in raw[:30]:
                        continue
                    if b"\\" in raw:
                        raw = raw.replace(b"\\", b"\\\\")
                    buffer.append(raw)
                    size += len(raw)
                    rows += 1
                    if size >= 1 << 20:
                        copy.write(b"".join(buffer))
                        buffer.clear()
                        size = 0
                copy.write(b"".join(buffer))
        else:
            conn.exec_driver_sql("DROP TABLE IF EXISTS bench_floor")
            conn.exec_driver_sql("CREATE TABLE bench_floor (body TEXT)")
            batch: list[tuple[str]] = []
            with open(path, "rb") as fh:
                for raw in fh:
                    if b'"implementation"' not in raw[:30]:
                        continue
                    batch.append((raw.decode(),))
                    rows += 1
                    if len(batch) >= 20_000:
                        cursor.executemany("INSERT INTO bench_floor VALUES (?)", batch)
                        batch.clear()
            cursor.executemany("INSERT INTO bench_floor VALUES (?)", batch)
    seconds = time.perf_counter() - start
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE bench_floor")
    engine.dispose()
    return {"seconds": seconds, "rows": rows}


def phase_publish(path: str, url: str, region: str | None) -> dict:
    from catalog.store import Store

    store = Store(url)
    start = time.perf_counter()
    published = store.publish_file(path, by="bench", region=region)
    seconds = time.perf_counter() - start
    store.dispose()
    return {
        "seconds": seconds,
        "version": published.version,
        "added": published.added,
        "changed": published.changed,
        "removed": published.removed,
    }


class Peak:
    """The most memory a phase held: the highest sum of its own and its processes' resident
    sets, sampled every 20 ms, and never less than its own high-water mark. Not `ru_maxrss`: a
    process started by fork and exec inherits the parent's peak in it, so a phase would carry
    the bench's own generated-catalog bookkeeping."""

    def __init__(self) -> None:
        self.kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.kib = max(self.kib, int(rss_mib(os.getpid()) * 1024))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        own = _status_kib(os.getpid(), "VmHWM:")
        self.kib = max(self.kib, own)

    @property
    def mib(self) -> float:
        return self.kib / 1024


def run_phase(name: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--phase", name, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{done.stderr[-3000:]}")
    for line in done.stderr.splitlines():  # the publish's phases, as an operator reads them
        if line.startswith("publish: "):
            print(f"#   {line}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the catalog ---------------------------------------------------------------------------


def make_files(rows: int, tmp: Path, levels: int = 4) -> dict:
    """The catalog, the same with 1,000 implementations changed, and the biggest county's
    submission over that (its implementations, three of them changed) — at five levels the
    biggest township's (its subtree's implementations). Also the applicants' regions: the
    counties, or at five levels the villages."""
    from catalog.model import Implementation, Region, record_decoder, record_encoder
    from fixtures.generate import generate

    first = tmp / "v1.jsonl"
    with open(first, "wb") as out:
        generate(out, rows, seed=0, levels=levels)
    rng = random.Random(1)
    chosen = set(rng.sample(range(rows), min(1000, rows)))
    second = tmp / "v2.jsonl"
    width = 6 if levels == 4 else 9
    by_region: dict[str, int] = {}
    applicants: list[str] = []
    header = b""
    with open(first, "rb") as fh, open(second, "wb") as out:
        index = 0
        for raw in fh:
            if not header:
                header = raw
            if b'"implementation"' in raw[:30]:
                if index in chosen:
                    impl = record_decoder.decode(raw)
                    assert isinstance(impl, Implementation)
                    raw = record_encoder.encode(record_replace(impl, window="综合受理窗口（调整）")) + b"\n"
                index += 1
                region = raw[raw.find(b'"region":"') + 10 :].split(b'"', 1)[0].decode()
                if len(region) >= width and region[4:6] != "00":
                    by_region[region[:width]] = by_region.get(region[:width], 0) + 1
            elif b'"region"' in raw[:30]:
                record = record_decoder.decode(raw)
                assert isinstance(record, Region)
                if record.level == ("county" if levels == 4 else "village"):
                    applicants.append(record.code)
            out.write(raw)
    part = max(sorted(by_region), key=lambda c: by_region[c])
    partial = tmp / "part.jsonl"
    changed = 0
    with open(second, "rb") as fh, open(partial, "wb") as out:
        out.write(header)
        for raw in fh:
            if b'"implementation"' in raw[:30] and f'"region":"{part}'.encode() in raw:
                if changed < 3:
                    impl = record_decoder.decode(raw)
                    raw = record_encoder.encode(record_replace(impl, promised_days=0)) + b"\n"
                    changed += 1
                out.write(raw)
    return {
        "first": first,
        "second": second,
        "partial": partial,
        "part": part,
        "part_rows": by_region[part],
        "applicants": applicants,
    }


def record_replace(record, **changes):
    import msgspec

    return msgspec.structs.replace(record, **changes)


# -- the API on the store -------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    """The resident memory of a process and its children, in MiB."""
    return sum(_status_kib(p, "VmRSS:") for p in [pid, *children(pid)]) / 1024


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """The processes any thread of `pid` started."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += (int(p) for p in (task / "children").read_text().split())
    return out


APPLICANTS = 5000
"""At most this many applicants' regions are drawn from (every county fits; villages do not)."""


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def api_figures(url: str, files: dict, tmp: Path) -> dict:
    import httpx

    from catalog.store import Store

    store = Store(url)
    token = store.create_token("bench", "admin")
    bundles = [b.bundle for b in store.bundles()]
    store.dispose()
    rng = random.Random(2)
    applicants = sorted(files["applicants"])
    if len(applicants) > APPLICANTS:  # half a million villages: a sample, the pairs stay few
        applicants = sorted(rng.sample(applicants, APPLICANTS))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ONETHING_TOKEN_TTL": "5"}
    started = time.perf_counter()
    server, base = start_server(url, tmp / "server.log", env)
    headers = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(base_url=base, headers=headers, timeout=60)
    out: dict = {}
    try:
        pairs = [(b.id, c) for b in bundles for c in applicants]
        rng.shuffle(pairs)
        first = pairs[0]
        wait_until_ready(
            server,
            tmp / "server.log",
            lambda: (
                client.get(f"/bundles/{first[0]}/workflow", params={"region": first[1]}).status_code
                in (200, 422)
            ),
            pause=0.05,
        )
        out["first_workflow_s"] = time.perf_counter() - started
        times = []
        for bundle, county in pairs[1:301]:
            t = time.perf_counter()
            r = client.get(f"/bundles/{bundle}/workflow", params={"region": county})
            times.append(time.perf_counter() - t)
            assert r.status_code in (200, 422), r.text
        times.sort()
        out["workflow_p50_ms"] = statistics.median(times) * 1e3
        out["workflow_p95_ms"] = times[int(len(times) * 0.95)] * 1e3
        out["worker_rss_mib"] = rss_mib(server.pid)
        # A bundle save, then the first read of another bundle's workflow.
        b = client.get(f"/bundles/{bundles[0].id}")
        etag = b.headers["etag"]
        body = {"name": b.json()["name"] + "（调整）", "items": b.json()["items"], "description": ""}
        client.put(f"/bundles/{bundles[0].id}", json=body, headers={"If-Match": etag})
        other, county = bundles[1].id, applicants[len(applicants) // 2]
        t = time.perf_counter()
        client.get(f"/bundles/{other}/workflow", params={"region": county})
        out["read_after_save_ms"] = (time.perf_counter() - t) * 1e3
        # The slowest read while a county's submission publishes (in another process).
        worst = [0.0]
        stop = threading.Event()

        def reader() -> None:
            local = httpx.Client(base_url=base, headers=headers, timeout=60)
            i = 0
            while not stop.is_set():
                bundle, c = pairs[(301 + i) % len(pairs)]
                i += 1
                t0 = time.perf_counter()
                local.get(f"/bundles/{bundle}/workflow", params={"region": c})
                worst[0] = max(worst[0], time.perf_counter() - t0)

        thread = threading.Thread(target=reader)
        thread.start()
        published = run_phase("publish", str(files["partial"]), url, files["part"])
        stop.set()
        thread.join()
        out["slowest_read_during_publish_ms"] = worst[0] * 1e3
        out["partial_during_api_s"] = published["seconds"]
    finally:
        server.terminate()
        server.wait(10)
        client.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres, or an SQLAlchemy URL")
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument(
        "--levels", type=int, choices=(4, 5), default=4, help="down to the county (4) or the village (5)"
    )
    parser.add_argument("--phase")
    parser.add_argument("args", nargs="*")
    args = parser.parse_args()
    if args.phase:
        phases = {
            "decode": lambda: phase_decode(*args.args),
            "load-floor": lambda: phase_load_floor(*args.args),
            "publish": lambda: phase_publish(
                args.args[0], args.args[1], args.args[2] if len(args.args) > 2 else None
            ),
        }
        logging.basicConfig(stream=sys.stderr, format="%(message)s")
        logging.getLogger("onething.store").setLevel(logging.INFO)  # the publish's phases
        with Peak() as peak:
            result = phases[args.phase]()
        result["peak_rss_mib"] = peak.mib
        print(json.dumps(result))
        return 0

    with scratch_store(args.db, "scale") as (url, tmp):
        print(
            f"# onething bench/scale.py — {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        print(
            f"# command: python bench/scale.py --rows {args.rows} --db {args.db}"
            + (f" --levels {args.levels}" if args.levels != 4 else "")
            + (" --skip-api" if args.skip_api else "")
        )
        t = time.perf_counter()
        files = make_files(args.rows, tmp, args.levels)
        os.sync()  # the generated files on disk now, not flushed by the kernel while phases are timed
        size = files["first"].stat().st_size
        print(
            f"catalog: {args.rows:,} implementation rows, {size / 2**20:,.0f} MiB (generated in {time.perf_counter() - t:.1f} s)"
        )
        if args.levels == 5:
            print(f"five levels: {len(files['applicants']):,} villages (the applicants' regions)")
        decode = run_phase("decode", str(files["first"]))
        floor = run_phase("load-floor", str(files["first"]), url)
        print(
            f"decode floor:   {decode['seconds']:7.2f} s  ({decode['records']:,} records, peak RSS {decode['peak_rss_mib']:.0f} MiB)"
        )
        print(f"load floor:     {floor['seconds']:7.2f} s  ({floor['rows']:,} rows, no index)")
        base = decode["seconds"] + floor["seconds"]
        first = run_phase("publish", str(files["first"]), url)
        print(
            f"publish:        {first['seconds']:7.2f} s  = {first['seconds'] / base:.2f}× (decode + load floor)"
            f"  [target ≤ 2×: {verdict(first['seconds'] <= 2 * base)}]"
            f"   peak RSS {first['peak_rss_mib']:.0f} MiB (with its validating process)"
            f" [target ≤ 512: {verdict(first['peak_rss_mib'] <= 512)}]"
        )
        second = run_phase("publish", str(files["second"]), url)
        print(
            f"republish:      {second['seconds']:7.2f} s  = {second['seconds'] / first['seconds']:.2f}× the first"
            f"  [target ≤ 0.5×: {verdict(second['seconds'] <= 0.5 * first['seconds'])}]"
            f"   changed {second['changed']:,}   peak RSS {second['peak_rss_mib']:.0f} MiB"
        )
        part = run_phase("publish", str(files["partial"]), url, files["part"])
        what = "county" if args.levels == 4 else "township"
        print(
            f"{what} submission: {part['seconds']:5.2f} s  ({files['part']}, {files['part_rows']:,} implementations,"
            f" {part['changed']} changed)  [target ≤ 2 s: {verdict(part['seconds'] <= 2)}]"
        )
        if not args.skip_api:
            figures = api_figures(url, files, tmp)
            print(
                f"serve → first workflow: {figures['first_workflow_s']:.2f} s"
                f"  [target ≤ 5 s: {verdict(figures['first_workflow_s'] <= 5)}]"
            )
            print(
                f"worker RSS:             {figures['worker_rss_mib']:.0f} MiB"
                f"  [target ≤ 400: {verdict(figures['worker_rss_mib'] <= 400)}]"
            )
            print(
                f"uncached workflow{' (village)' if args.levels == 5 else ''}:"
                f" p50 {figures['workflow_p50_ms']:.1f} ms, p95 {figures['workflow_p95_ms']:.1f} ms"
                f"  [target p50 ≤ 20 ms: {verdict(figures['workflow_p50_ms'] <= 20)}]"
            )
            print(
                f"first read after a bundle save: {figures['read_after_save_ms']:.1f} ms"
                f"  [target ≤ 250 ms: {verdict(figures['read_after_save_ms'] <= 250)}]"
            )
            print(
                f"slowest read during a {what}'s publish: {figures['slowest_read_during_publish_ms']:.1f} ms"
                f" (the publish took {figures['partial_during_api_s']:.2f} s)"
                f"  [target ≤ 250 ms: {verdict(figures['slowest_read_during_publish_ms'] <= 250)}]"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
