"""Benchmark: the API's cached workflow fetch against a bare Litestar app, and uncached workflows.

    .venv/bin/python bench/api.py [--duration 10] [--connections 32]

1. A SQLite database is loaded with fixtures/ningxia.jsonl; `onething`'s app is served by
   uvicorn (one worker, no access log) exactly as `onething serve` does, in the default
   configuration (the rate limit on; the client a portal's backend with its bearer token,
   which the limit does not count).
2. A bare Litestar app answering a constant JSON body of the same size as the workflow
   document is served with the same uvicorn settings, and the same request headers.
3. `wrk -t1 -cC -dDs --latency` drives each on 127.0.0.1, one after the other (same machine:
   wrk and the server share its cores — the ratio is the figure to read).
4. Uncached: every (bundle, region) pair of the fixture is fetched once over HTTP from a fresh
   server, so each is a cache miss (X-Cache: miss): compose + encode + HTTP; its p50 is printed,
   beside the in-process compose+encode p50 without HTTP.

Targets: cached fetch ≥ 80% of the bare app's requests/s (issue 22), none of its answers other
than 2xx/3xx; uncached p50 ≤ 20 ms (issue "The API"). Each is printed "met" or "NOT met".
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder would shadow the `api` package with this module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, free_port, stop

FIXTURE = ROOT / "fixtures" / "ningxia.jsonl"
PYTHON = sys.executable
RATIO = 0.8
"""The cached fetch's target: this share of the bare app's requests/s."""


def bare_app():
    """A Litestar app with one route answering a constant JSON body of BENCH_BODY_SIZE bytes.

    The baseline: uvicorn imports this module in its own process, so the module imports nothing
    of the project at the top (`main` imports what it needs) and this app only Litestar."""
    from litestar import Litestar, Response, get

    size = int(os.environ.get("BENCH_BODY_SIZE", "2048"))
    body = b'{"x":"' + b"a" * max(0, size - 8) + b'"}'

    @get(
        "/bundles/{bundle_id:str}/workflow", sync_to_thread=False, signature_namespace={"Response": Response}
    )
    def constant(bundle_id: str) -> Response:
        return Response(content=body, media_type="application/json", headers={"ETag": '"w"'})

    return Litestar(route_handlers=[constant])


def serve(target: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    cmd = [
        PYTHON,
        "-m",
        "uvicorn",
        target,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"server {target} exited with {proc.returncode}") from None
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"server {target} did not start")


def wrk(url: str, headers: dict[str, str], duration: int, connections: int) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, timeout=duration + 30, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package `wrk`)", file=sys.stderr)
        return 2

    import httpx
    import msgspec

    from bundler import BundleError, compose_bundle
    from catalog.store import Store
    from catalog.validate import load_file

    catalog, report = load_file(FIXTURE)
    assert report.ok, "the fixture has error findings"
    tmp = Path(tempfile.mkdtemp(prefix="onething-bench-"))
    db = f"sqlite:///{tmp / 'bench.db'}"
    store = Store(db)
    store.publish(catalog)
    token = store.create_token("bench", "portal")
    store.dispose()
    env = {"ONETHING_DB": db, "PYTHONPATH": str(ROOT)}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    counties = sorted(c for c, r in catalog.regions.items() if r.level == "county")
    bundle, region, size = None, None, 0
    for b in sorted(catalog.bundles):  # the largest workflow document of the fixture
        for c in counties:
            try:
                n = len(msgspec.json.encode(compose_bundle(catalog, b, c)))
            except BundleError:
                continue
            if n > size:
                bundle, region, size = b, c, n
    assert bundle is not None

    print("onething API benchmark")
    print(
        f"  machine: {platform.machine()} {os.cpu_count()} CPUs, {platform.platform()}, Python "
        f"{platform.python_version()}; wrk and uvicorn share the machine"
    )
    print(
        f"  catalog: {FIXTURE.name} ({len(catalog.items)} items, {len(catalog.implementations)} "
        f"implementations, {len(catalog.bundles)} bundles), SQLite"
    )
    print(f"  workflow: bundle {bundle!r} for region {region} ({size} bytes)")
    print(
        f"  server: uvicorn --workers 1 --no-access-log; wrk -t1 -c{args.connections} -d{args.duration}s --latency"
    )

    # -- uncached: every (bundle, region) once, on a fresh server ------------------------------
    port = free_port()
    server = serve("api.app:create_app", port, env)
    misses: list[float] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            client.get("/health")
            for b in sorted(catalog.bundles):
                for c in sorted(catalog.regions):
                    started = time.perf_counter()
                    r = client.get(f"/bundles/{b}/workflow", params={"region": c})
                    elapsed = (time.perf_counter() - started) * 1e3
                    if r.status_code == 200 and r.headers.get("x-cache") == "miss":
                        misses.append(elapsed)
            url = f"http://127.0.0.1:{port}/bundles/{bundle}/workflow?region={region}"
            assert client.get(url).headers["x-cache"] == "hit"
        # -- cached: the same workflow over and over ---------------------------------------------
        ours = wrk(url, headers, args.duration, args.connections)
    finally:
        stop(server)

    in_process: list[float] = []
    for b in sorted(catalog.bundles):
        for c in sorted(catalog.regions):
            started = time.perf_counter()
            try:
                msgspec.json.encode(compose_bundle(catalog, b, c))
            except BundleError:
                continue
            in_process.append((time.perf_counter() - started) * 1e3)

    port = free_port()
    server = serve("bench.api:bare_app", port, {**env, "BENCH_BODY_SIZE": str(size)})
    try:
        bare = wrk(
            f"http://127.0.0.1:{port}/bundles/{bundle}/workflow?region={region}",
            headers,
            args.duration,
            args.connections,
        )
    finally:
        stop(server)
    shutil.rmtree(tmp, ignore_errors=True)

    ratio = ours["rps"] / bare["rps"]
    uncached = statistics.median(misses)
    print()
    print(f"  {'':28} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    print(
        f"  {'bare Litestar, same body':28} {bare['rps']:>11.0f} {bare['p50']:>8.2f} {bare['p99']:>8.2f} "
        f"{bare['non2xx']:>8.0f}"
    )
    print(
        f"  {'cached workflow fetch':28} {ours['rps']:>11.0f} {ours['p50']:>8.2f} {ours['p99']:>8.2f} "
        f"{ours['non2xx']:>8.0f}"
    )
    print(
        f"  ratio: {ratio:.0%} of the bare app's throughput (target ≥ 80%)"
        f" — {'met' if ratio >= RATIO else 'NOT met'}"
    )
    print(
        f"  cached fetch answers other than 2xx/3xx: {ours['non2xx']:.0f} (target 0)"
        f" — {'met' if ours['non2xx'] == 0 else 'NOT met'}"
    )
    print(
        f"  uncached workflow over HTTP: p50 {uncached:.2f} ms, p99 "
        f"{sorted(misses)[int(len(misses) * 0.99) - 1]:.2f} ms over {len(misses)} misses (target p50 ≤ 20 ms)"
        f" — {'met' if uncached <= 20 else 'NOT met'}"
    )
    print(
        f"  compose + encode in process: p50 {statistics.median(in_process):.2f} ms over {len(in_process)} workflows"
    )
    print(
        f"  reproduce: .venv/bin/python bench/api.py --duration {args.duration} --connections {args.connections}"
    )
    return 0 if ratio >= RATIO and uncached <= 20 and ours["non2xx"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
