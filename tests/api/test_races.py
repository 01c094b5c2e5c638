"""Issue 11's race on PostgreSQL: six designers editing one bundle while the catalog is
published again and again, through the API and through the command line. Every writer takes
the catalog row, then the bundles row, then a bundle: no deadlock, no starved publish, no
5xx and no lost update."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading

import msgspec
import pytest

from api.settings import Settings
from catalog.load import dump_lines
from tests.conftest import ROOT

from .conftest import running, small_catalog


@pytest.fixture
def published(tmp_path):
    """Two versions of the small catalog to publish in turn (they differ in one window). They
    hold no bundle record: a file's bundle replaces the stored one of the same id, which would
    be a write of its own, not a race."""
    catalog = small_catalog()
    impls = dict(catalog.implementations)
    code = min(impls)
    impls[code] = msgspec.structs.replace(impls[code], window="二号窗口")
    other = msgspec.structs.replace(catalog, implementations=impls, bundles={}, lines={})
    files = []
    for name, version in (("a", msgspec.structs.replace(catalog, bundles={})), ("b", other)):
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(b"".join(dump_lines(msgspec.structs.replace(version, lines={}))))
        files.append(path)
    return catalog, files


def test_six_designers_and_repeated_publishes_through_api_and_cli(pg_url, published):
    catalog, files = published
    settings = Settings(db_url=pg_url, token_ttl=0)
    designers, rounds, publishes = 6, 4, 4
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(running(settings, catalog))
        instances = [
            stack.enter_context(running(settings, tokens=first.tokens)) for _ in range(designers + 1)
        ]
        statuses: list[int] = []
        errors: list[str] = []
        barrier = threading.Barrier(designers + 2, timeout=60)

        def designer(n: int) -> None:
            api = instances[n]
            try:
                barrier.wait()
                for k in range(rounds):
                    while True:
                        r = api.get("/bundles/newborn")
                        statuses.append(r.status_code)
                        body = {
                            "name": r.json()["name"],
                            "items": r.json()["items"],
                            "description": r.json()["description"] + f"[{n}.{k}]",
                        }
                        w = api.put("/bundles/newborn", json=body, headers={"If-Match": r.headers["etag"]})
                        statuses.append(w.status_code)
                        if w.status_code == 200:
                            break
                        assert w.status_code == 412, w.text
            except BaseException as exc:  # noqa: BLE001 - reported in the main thread
                errors.append(repr(exc))

        def api_publisher() -> None:
            api = instances[designers]
            try:
                barrier.wait()
                for k in range(publishes):
                    r = api.put("/catalog", role="reviewer", content=files[k % 2].read_bytes())
                    statuses.append(r.status_code)
                    assert r.status_code == 200, r.text
            except BaseException as exc:  # noqa: BLE001
                errors.append(repr(exc))

        def cli_publisher() -> None:
            try:
                barrier.wait()
                for k in range(publishes):
                    done = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "onething",
                            "publish",
                            str(files[(k + 1) % 2]),
                            "--db",
                            pg_url,
                        ],
                        cwd=ROOT,
                        env={**os.environ, "PYTHONPATH": str(ROOT)},
                        capture_output=True,
                        text=True,
                        timeout=120,
                        check=False,
                    )
                    assert done.returncode == 0, done.stderr
            except BaseException as exc:  # noqa: BLE001
                errors.append(repr(exc))

        threads = [threading.Thread(target=designer, args=(n,)) for n in range(designers)]
        threads += [threading.Thread(target=api_publisher), threading.Thread(target=cli_publisher)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert not [s for s in statuses if s >= 500]
        final = first.get("/bundles/newborn").json()
        marks = [f"[{n}.{k}]" for n in range(designers) for k in range(rounds)]
        assert all(mark in final["description"] for mark in marks)  # no lost update
        assert final["version"] == 1 + designers * rounds
        assert first.get("/health").json()["revision"] == 1 + 2 * publishes
