"""Benchmark: reads on a PostgreSQL hot standby — throughput with 1 and 2 databases, replication
lag after a 1M-row publish, and stale reads (target: none).

    python bench/replicas.py --rows 1000000 [--seconds 10] [--readers 4]

`bench.standby` makes a primary and its streaming hot standby on this machine (two clusters on
free ports, pg_basebackup; the system's cluster is not touched). Then, on a catalog from
`fixtures.generate`:

1. the first publish of the whole catalog on the primary (time), and the replication lag when it
   commits: WAL bytes the standby had not replayed, and seconds until the standby shows the
   version (its `onething_state` row), with the most WAL it was behind during the publish;
2. read throughput: `--readers` processes, each reading for `--seconds` one random county's
   items as an applicant sees them (`Store.placements`: a window over the county's path), with
   one database (the primary), with the standby answering every read, and with two databases
   sharing them (the primary listed among the replicas);
3. stale reads: reader threads ask the primary for the newest version (what a request shows)
   and read one implementation of it through the fenced store, while the primary publishes —
   a republish of the whole catalog with 1,000 implementations changed (lag measured again),
   then county submissions, one of them while the standby's replay is paused for a second.
   That implementation's window names the version that wrote it, so an answer from an older
   version is seen. The same reads made on the standby directly, without the fence, are counted
   beside them: they show how many the fence caught.

Targets (issue 22): 0 stale reads across replicas. Throughput and lag are measured, not targets;
on this machine both clusters and the readers share the same cores, so the ratios say what one
machine's cores allow, not what a second server would add.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

# Run as a script, this file's folder would shadow the `api` package with the bench modules.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.standby import Pair, replay, replication_pair

MARK = "综合受理窗口（第{}版）"
"""The window the marked implementation has in each version after the first."""


# -- the catalog -----------------------------------------------------------------------------------


class Files:
    """The catalog, its republish, and one county's submission with the marked implementation."""

    def __init__(self, rows: int, tmp: Path):
        """`first`: the catalog; `second`: the same with 1,000 implementations changed, the marked
        one among them; `county`, `county_lines`: the biggest county and its submission's lines
        (the header first); `code`, `window`: the marked implementation and its first window."""
        from catalog.model import Implementation, record_decoder, record_encoder
        from fixtures.generate import generate

        self.tmp = tmp
        self.first = tmp / "v1.jsonl"
        with open(self.first, "wb") as out:
            generate(out, rows, seed=0)
        by_county: dict[str, list[bytes]] = {}
        header = b""
        with open(self.first, "rb") as fh:
            for raw in fh:
                header = header or raw
                if b'"implementation"' in raw[:30]:
                    region = raw[raw.find(b'"region":"') + 10 :][:6].decode()
                    if region[4:] != "00":
                        by_county.setdefault(region, []).append(raw)
        self.county = max(sorted(by_county), key=lambda c: len(by_county[c]))
        self.county_lines = [header, *by_county[self.county]]
        marked = record_decoder.decode(self.county_lines[1])
        assert isinstance(marked, Implementation)
        self.code, self.window = marked.code, marked.window
        self.encode = record_encoder.encode
        self.marked = marked
        chosen = set(random.Random(1).sample(range(rows), min(999, rows)))
        self.second = tmp / "v2.jsonl"
        index = 0
        with open(self.first, "rb") as fh, open(self.second, "wb") as out:
            for raw in fh:
                if b'"implementation"' in raw[:30]:
                    if raw == self.county_lines[1]:
                        raw = self.marked_line(2)
                    elif index in chosen:
                        impl = record_decoder.decode(raw)
                        raw = self.encode(_replace(impl, window="综合受理窗口（调整）")) + b"\n"
                    index += 1
                out.write(raw)

    def marked_line(self, version: int) -> bytes:
        return self.encode(_replace(self.marked, window=MARK.format(version))) + b"\n"

    def county_file(self, version: int) -> Path:
        """The county's submission that becomes `version`, the marked implementation naming it."""
        path = self.tmp / f"county-{version}.jsonl"
        lines = list(self.county_lines)
        lines[1] = self.marked_line(version)
        path.write_bytes(b"".join(lines))
        return path

    def expected(self, version: int) -> str:
        """The marked implementation's window in `version`."""
        return self.window if version == 1 else MARK.format(version)


def _replace(record: Any, **changes: Any) -> Any:
    import msgspec

    return msgspec.structs.replace(record, **changes)


# -- replication lag -------------------------------------------------------------------------------


class Lag:
    """The standby's lag behind the primary: WAL bytes not replayed (sampled while a publish
    runs, the most kept) and, after a commit, the seconds until the standby shows the version."""

    def __init__(self, pair: Pair):
        import sqlalchemy as sa

        self.primary = sa.create_engine(pair.primary, poolclass=sa.pool.NullPool)
        self.standby = sa.create_engine(pair.standby, poolclass=sa.pool.NullPool)
        self.most = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def behind(self) -> int:
        """WAL bytes written on the primary and not yet replayed on the standby."""
        with self.primary.connect() as conn:
            query = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication"
            return int(conn.exec_driver_sql(query).scalar() or 0)

    def watch(self) -> None:
        """Sample `behind` every 0.2 s until `shows`."""
        self.most = 0
        self._stop.clear()

        def sample() -> None:
            while not self._stop.wait(0.2):
                self.most = max(self.most, self.behind())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def shows(self, version: int) -> str:
        """Right after `version` committed: the line saying the WAL bytes behind then and the
        seconds until the standby shows it."""
        start = time.perf_counter()
        bytes_behind = self.behind()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.most = max(self.most, bytes_behind)
        with self.standby.connect() as conn:
            while (
                conn.exec_driver_sql("SELECT counter FROM onething_state WHERE id = 1").scalar() or 0
            ) < version:
                time.sleep(0.002)
        caught = time.perf_counter() - start
        return (
            f"lag at commit:   {bytes_behind / 2**20:.1f} MiB of WAL not replayed; the standby showed the version "
            f"{caught:.2f} s later (most behind during the publish: {self.most / 2**20:.1f} MiB)"
        )


# -- throughput ------------------------------------------------------------------------------------


def read_for(
    primary: str, replicas: list[str], version: int, paths: list[list[str]], start: float, seconds: float
) -> int:
    """In a process of its own: random counties' placements from `start` (a wall-clock time, the
    same for every process) for `seconds`; how many were read."""
    from catalog.store import Store

    store = Store(primary, replicas=replicas)
    rng = random.Random(os.getpid())
    store.placements(version, paths[0])  # connections open before the clock starts
    time.sleep(max(0.0, start - time.time()))
    done = 0
    end = time.time() + seconds
    while time.time() < end:
        store.placements(version, rng.choice(paths))
        done += 1
    store.dispose()
    return done


def throughput(primary: str, replicas: list[str], version: int, paths: list[list[str]], args: Any) -> float:
    """Reads per second of `args.readers` processes."""
    with multiprocessing.get_context("spawn").Pool(args.readers) as pool:
        start = time.time() + 5  # every process started and connected by then
        jobs = [(primary, replicas, version, paths, start, args.seconds)] * args.readers
        return sum(pool.starmap(read_for, jobs)) / args.seconds


# -- stale reads -----------------------------------------------------------------------------------


class Readers:
    """Threads reading the marked implementation of the newest version (asked of the primary, as a
    request's view is), fenced through the store; one reading the standby directly, unfenced."""

    def __init__(self, pair: Pair, files: Files, threads: int):
        import sqlalchemy as sa

        from catalog.store import Store

        self.files = files
        self.store = Store(pair.primary, replicas=[pair.standby])
        self.unfenced = sa.create_engine(pair.standby)
        self.counts = {"fenced": 0, "stale": 0, "unfenced": 0, "unfenced stale": 0}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self.fenced, daemon=True) for _ in range(threads)]
        self.threads.append(threading.Thread(target=self.direct, daemon=True))

    def __enter__(self) -> Self:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join()
        self.store.dispose()
        self.unfenced.dispose()

    def _count(self, kind: str, stale: bool) -> None:
        with self._lock:
            self.counts[kind] += 1
            if stale:
                self.counts[f"{kind} stale" if kind == "unfenced" else "stale"] += 1

    def fenced(self) -> None:
        code = self.files.code
        while not self._stop.is_set():
            version = self.store.heads()[0]
            found = self.store.implementation(version, code)
            self._count("fenced", found is None or found[0].window != self.files.expected(version))

    def direct(self) -> None:
        from catalog.store import reads

        code = self.files.code
        while not self._stop.is_set():
            version = self.store.heads()[0]
            with self.unfenced.connect() as conn:
                found = reads.implementation(conn, version, code)
            self._count("unfenced", found is None or found[0].window != self.files.expected(version))
            time.sleep(0.005)


# -- the run ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="each throughput run (default 10)")
    parser.add_argument("--readers", type=int, default=4, help="reading processes (default 4)")
    parser.add_argument("--counties", type=int, default=5, help="county publishes in the stale-read run")
    args = parser.parse_args()
    from catalog.store import Store
    from catalog.tree import lineage

    print(
        f"# onething bench/replicas.py — {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"# command: python bench/replicas.py --rows {args.rows} --seconds {args.seconds:g} "
        f"--readers {args.readers} --counties {args.counties}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="onething-replicas-"))
    try:
        start = time.perf_counter()
        files = Files(args.rows, tmp)
        print(
            f"catalog:         {args.rows:,} implementations generated in {time.perf_counter() - start:.1f} s"
        )
        with replication_pair() as pair:
            print(
                f"pair:            primary {pair.primary.split('@')[1]}, standby {pair.standby.split('@')[1]}"
            )
            writer = Store(pair.primary)
            lag = Lag(pair)

            lag.watch()
            start = time.perf_counter()
            version = writer.publish_file(files.first, by="bench").version
            seconds = time.perf_counter() - start
            shown = lag.shows(version)
            print(f"first publish:   {seconds:.1f} s (version {version})")
            print(shown)

            regions = writer.dictionaries(version).regions
            counties = sorted(code for code, r in regions.items() if r.level == "county")
            paths = [lineage(regions, c) for c in random.Random(2).sample(counties, min(50, len(counties)))]
            setups = {"1 database (primary)": [], "the standby": [pair.standby]}
            setups["2 databases (both)"] = [pair.standby, pair.primary]
            for warm in ([], [pair.standby]):  # both servers' caches warmed alike first
                throughput(
                    pair.primary, warm, version, paths, argparse.Namespace(readers=1, seconds=args.seconds)
                )
            rounds: dict[str, list[float]] = {name: [] for name in setups}
            for _ in range(2):  # interleaved rounds: the machine is shared
                for name, replicas in setups.items():
                    rounds[name].append(throughput(pair.primary, replicas, version, paths, args))
            one = max(rounds["1 database (primary)"])
            print(
                f"reads (county placements, {args.readers} processes, {args.seconds:g} s a round, best of 2):"
            )
            for name, figures in rounds.items():
                each = ", ".join(f"{x:.1f}" for x in figures)
                print(
                    f"  on {name:22} {max(figures):8.1f} /s  ({max(figures) / one:.2f}× 1 database; rounds {each})"
                )

            with Readers(pair, files, threads=4) as readers:
                time.sleep(1)
                lag.watch()
                start = time.perf_counter()
                version = writer.publish_file(files.second, by="bench").version
                seconds = time.perf_counter() - start
                shown = lag.shows(version)
                print(f"republish:       {seconds:.1f} s (version {version}, 1,000 implementations changed)")
                print(shown)
                for n in range(args.counties):
                    paused = n == args.counties - 1
                    if paused:
                        replay(pair.standby, paused=True)
                    version = writer.publish_file(
                        files.county_file(version + 1), by="bench", region=files.county
                    ).version
                    time.sleep(1)
                    if paused:
                        replay(pair.standby, paused=False)
                time.sleep(1)
                answered = readers.store.replicas.replicas[0].reads  # type: ignore[union-attr]
            counts = readers.counts
            print(
                f"county publishes: {args.counties} (versions {version - args.counties + 1}–{version}; replay paused "
                f"for 1 s during the last)"
            )
            print(
                f"fenced reads:    {counts['fenced']:,} ({answered:,} answered by the standby, "
                f"{counts['fenced'] - answered:,} by the primary); stale: {counts['stale']}  "
                f"[target 0: {'met' if counts['stale'] == 0 else 'NOT met'}]"
            )
            print(
                f"unfenced reads:  {counts['unfenced']:,} on the standby directly; stale: {counts['unfenced stale']} "
                "(what the fence caught)"
            )
            writer.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
