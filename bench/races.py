"""Benchmark: reads while a publish runs in the serving process, against reads with none, same run.

    python bench/races.py --rows 200000 --db sqlite      # or --db postgres, or an SQLAlchemy URL
    python bench/races.py --rows 200000 --db postgres --readers 4 --quiet 8

On a catalog from `fixtures.generate` (first published from the command line), `onething serve`
(one worker, as in production per core) answers `--readers` clients reading in a loop — an
uncached workflow of a random (bundle, county), a county's effective items, a bundle — first
for `--quiet` seconds with nothing else going on, then while the same server publishes through
its API: the whole catalog again with 1,000 implementations changed (`PUT /catalog`), then the
biggest county's list with three changed (`PUT /regions/{county}/implementations`). For each
period it prints the read count, p50, p99 and the slowest read, and each publish's figures as a
ratio to the quiet period's (issue 18, point 7: slowest 1.02 s, p99 568 ms; target: every read
under 250 ms while a publish runs).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Run as a script, this file's folder would shadow the `api` package with the bench modules.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import ROOT, scratch_store, start_server, wait_until_ready
from bench.scale import make_files
from catalog.store import Store


class Readers:
    """`n` clients reading in a loop; each read's latency goes to the current period's list."""

    def __init__(self, base: str, token: str, pairs: list[tuple[str, str]], n: int) -> None:
        self.base, self.token, self.pairs, self.n = base, token, pairs, n
        self.period: list[float] = []
        self.kinds: list[list[float]] = [[], [], []]
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._read, args=(k,), daemon=True) for k in range(n)]

    def _read(self, k: int) -> None:
        client = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.token}"}, timeout=120)
        rng = random.Random(k)
        while not self.stop.is_set():
            bundle, county = rng.choice(self.pairs)
            kind = rng.randrange(3)
            url, params = (
                (f"/bundles/{bundle}/workflow", {"region": county})
                if kind == 0
                else (f"/regions/{county}/items", {})
                if kind == 1
                else (f"/bundles/{bundle}", {})
            )
            t = time.perf_counter()
            r = client.get(url, params=params)
            took = time.perf_counter() - t
            if r.status_code not in (200, 422):
                self.errors.append(f"{url} {r.status_code} {r.text[:200]}")
            self.period.append(took)
            self.kinds[kind].append(took)
        client.close()

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def measure(self) -> list[float]:
        """Start a new period; return the one that ends (its reads by kind in `last_kinds`)."""
        done, self.period = self.period, []
        self.last_kinds, self.kinds = self.kinds, [[], [], []]
        return done

    def by_kind(self) -> str:
        parts = []
        for name, times in zip(("workflow", "region items", "bundle"), self.last_kinds, strict=True):
            f = figures(times)
            parts.append(f"{name} p50 {f['p50']:.0f} / max {f['max']:.0f} ms")
        return "    by kind: " + ", ".join(parts)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its waited-for children (the publish's validating child)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(v) for v in fields[11:15]) / ticks  # utime, stime, cutime, cstime


def figures(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    if not times:
        return {"n": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    return {
        "n": len(times),
        "p50": times[len(times) // 2] * 1e3,
        "p99": times[min(len(times) - 1, int(len(times) * 0.99))] * 1e3,
        "max": times[-1] * 1e3,
    }


def cpu_line(pid: int, cpu: float, wall: float) -> str:
    used, took = cpu_seconds(pid) - cpu, time.perf_counter() - wall
    load = os.getloadavg()[0]
    return (
        f"    server (with its children) used {used:.1f} CPU s in {took:.1f} s = {used / took:.2f} of "
        f"{os.cpu_count()} cores; machine load average {load:.1f}"
    )


def line(name: str, f: dict[str, float], quiet: dict[str, float] | None = None, extra: str = "") -> str:
    text = f"{name:<34} {f['n']:6.0f} reads   p50 {f['p50']:7.1f} ms   p99 {f['p99']:7.1f} ms   slowest {f['max']:7.1f} ms"
    if quiet:
        text += f"   (×{f['p99'] / max(quiet['p99'], 1e-9):.1f} p99, ×{f['max'] / max(quiet['max'], 1e-9):.1f} slowest)"
    return text + extra


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres, or an SQLAlchemy URL")
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--quiet", type=float, default=8.0, help="seconds of reads with no publish")
    parser.add_argument("--keep", action="store_true", help="keep the server's log (path printed)")
    parser.add_argument(
        "--py-spy", help="a py-spy binary: sample the server during each publish (--gil --threads, "
        "collapsed stacks kept next to the log)"
    )
    args = parser.parse_args()

    with scratch_store(args.db, "races") as (url, tmp):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "ONETHING_TOKEN_TTL": "5", "ONETHING_RATE_LIMIT": "0"}
        server = None
        try:
            print(f"# onething bench/races.py — {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
            print(f"# command: python bench/races.py --rows {args.rows} --db {args.db} --readers {args.readers} --quiet {args.quiet:g}")
            files = make_files(args.rows, tmp)
            subprocess.run(
                [sys.executable, "-m", "onething", "publish", str(files["first"]), "--db", url],
                cwd=ROOT, env=env, check=True, capture_output=True,
            )
            store = Store(url)
            token = store.create_token("bench", "admin")
            catalog = store.dictionaries(store.revision())
            bundles = [b.bundle.id for b in store.bundles()]
            store.dispose()
            counties = sorted(c for c, r in catalog.regions.items() if r.level == "county")
            pairs = [(b, c) for b in bundles for c in counties]
            print(
                f"catalog: {args.rows:,} implementation rows ({files['first'].stat().st_size / 2**20:.0f} MiB), "
                f"{len(counties):,} counties, {len(bundles)} bundles; county {files['county']}: {files['county_rows']:,} rows"
            )
            log = tmp / "server.log"
            server, base = start_server(url, log, env)
            admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600)
            wait_until_ready(server, log, lambda: admin.get("/health").status_code == 200)
            readers = Readers(base, token, pairs, args.readers)
            readers.start()
            time.sleep(2)  # warm: the view loaded, connections open
            readers.measure()
            cpu, wall = cpu_seconds(server.pid), time.perf_counter()
            time.sleep(args.quiet)
            quiet = figures(readers.measure())
            print(line("no publish", quiet))
            print(cpu_line(server.pid, cpu, wall))
            print(readers.by_kind())
            for name, path, target in (
                ("during PUT /catalog (whole file)", files["second"], "/catalog"),
                ("during a county's PUT", files["partial"], f"/regions/{files['county']}/implementations"),
            ):
                readers.measure()
                spy = None
                if args.py_spy:
                    out = Path(tempfile.gettempdir()) / f"races-{os.getpid()}-{target.strip('/').replace('/', '_')}.txt"
                    spy = subprocess.Popen(
                        [args.py_spy, "record", "--gil", "--threads", "--format", "raw", "--rate", "200",
                         "-o", str(out), "-p", str(server.pid)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )
                    time.sleep(1)
                    readers.measure()
                body = path.read_bytes()
                cpu, wall = cpu_seconds(server.pid), time.perf_counter()
                t = time.perf_counter()
                r = admin.put(target, content=body)
                took = time.perf_counter() - t
                if spy is not None:
                    spy.send_signal(2)
                    spy.wait(30)
                    print(f"  py-spy (GIL holders): {out}")
                assert r.status_code == 200, r.text[:500]
                during = figures(readers.measure())
                print(line(name, during, quiet, f"   [publish {took:.2f} s, revision {r.json()['revision']}]"))
                print(readers.by_kind())
                print(cpu_line(server.pid, cpu, wall))
                time.sleep(1)
                readers.measure()
            readers.close()
            if readers.errors:
                print(f"{len(readers.errors)} reads failed, first: {readers.errors[0]}")
            print("target: every read while a publish runs under 250 ms")
            if args.keep:
                keep = Path(tempfile.gettempdir()) / f"races-server-{os.getpid()}.log"
                shutil.copy(log, keep)
                print(f"server log: {keep}")
        finally:
            if server is not None:
                server.terminate()
                server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
