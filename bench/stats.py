"""Benchmark: `GET /stats` uncached, from the figures written at publish, against counting the
implementations (what `GET /stats` did before) in the same run.

    python bench/stats.py --rows 300000 --db sqlite
    python bench/stats.py --rows 1000000 --db postgres

On a catalog from `fixtures.generate` it times the first publish (which counts every figure
once), a republish with 1,000 implementations changed and one county's partial submission
(which move only the figures they touch), then, in the API (in process, rate limit off), the
p50 of `GET /stats?region=640000` — or, when the generated tree stops before Ningxia, of its
province with the most implementations — and of the national `GET /stats`, each request
uncached (the statistics' cache emptied before it; the bundles' checks rows, computed once per
version whatever the region, stay warm). The baseline is the same report counted from the
region's implementations, as before the figures. Target: a province ≤ 50 ms p50.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import scratch_store
from bench.scale import make_files

TARGET_MS = 50.0
REPEAT = 30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres, or an SQLAlchemy URL")
    args = parser.parse_args()

    import logging

    from litestar.testing import TestClient

    from api.app import create_app
    from api.settings import Settings
    from bundler.stats import stats
    from catalog.store import Store
    from catalog.tree import subtree

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    with scratch_store(args.db, "stats") as (url, tmp):
        print(
            f"# onething bench/stats.py — {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        print(f"# command: python bench/stats.py --rows {args.rows} --db {args.db}")
        files = make_files(args.rows, tmp)
        store = Store(url)
        took: list[str] = []

        class Phases(logging.Handler):
            """The publish's own log of how long the figures took."""

            def emit(self, record: logging.LogRecord) -> None:
                message = record.getMessage()
                if "figures took" in message:
                    took.append(message.removeprefix("publish: "))

        logging.getLogger("onething.store").addHandler(Phases(logging.INFO))
        logging.getLogger("onething.store").setLevel(logging.INFO)
        for name, path, region in (
            ("first publish", files["first"], None),
            ("republish (1,000 changed)", files["second"], None),
            (f"county submission ({files['part']})", files["partial"], files["part"]),
        ):
            t = time.perf_counter()
            published = store.publish_file(path, by="bench", region=region)
            print(
                f"{name}: {time.perf_counter() - t:.2f} s  (version {published.version},"
                f" +{published.added} ~{published.changed} -{published.removed}; {', '.join(took)})"
            )
            took.clear()
        version = store.revision()
        catalog = store.dictionaries(version)
        own = store.figures(version, catalog, None)
        assert own is not None
        provinces = {r.region: r.total.implementations for r in own.regions if r.level == "province"}
        province = "640000" if "640000" in provinces else max(sorted(provinces), key=provinces.__getitem__)
        if province != "640000":
            print(
                f"(640000 is not in a generated catalog of {args.rows:,} rows: its largest province instead)"
            )
        token = store.create_token("bench", "admin")

        app = create_app(Settings(db_url=url, rate_limit=0))
        service = app.state.stats
        figures: dict[str, float] = {}
        with TestClient(app) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            for label, params in ((province, {"region": province}), ("national", {})):
                assert client.get("/stats", params=params).status_code == 200  # checks rows, views warm
                times = []
                for _ in range(REPEAT):
                    service._kept.clear()  # uncached: every request reads its figures again
                    t = time.perf_counter()
                    r = client.get("/stats", params=params)
                    times.append(time.perf_counter() - t)
                    assert r.status_code == 200, r.text
                figures[label] = statistics.median(times) * 1e3
                # The baseline: the same report counted from the implementations (before figures).
                full = app.state.store
                region = params.get("region")
                within = None if region is None else subtree(catalog.regions, region)
                counted = []
                for _ in range(3 if args.rows <= 300_000 else 1):
                    t = time.perf_counter()
                    stats(
                        catalog,
                        full.implementations_within(version, within),
                        {},
                        revision=version,
                        region=region,
                    )
                    counted.append(time.perf_counter() - t)
                base = statistics.median(counted) * 1e3
                verdict = "met" if figures[label] <= TARGET_MS else "NOT met"
                print(
                    f"GET /stats{'?region=' + province if region else ''} ({label}): p50 {figures[label]:.1f} ms uncached"
                    f"  [target ≤ {TARGET_MS:.0f} ms: {verdict}]   counting its implementations: {base:.0f} ms"
                    f" ({base / figures[label]:.0f}×)"
                )
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
