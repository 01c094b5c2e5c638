"""`kill -9` during an approval (§6: a publish is one transaction): the store is left at the old
version with the submission pending, or at the new version with it approved — never a mix.

A child process approves a held submission and is killed at a random moment after it starts
(some kills land before the publish, some inside it, some after); each round then checks the
store and holds the next submission. Nothing here measures time.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from catalog.model import Catalog
from catalog.store import Store
from catalog.validate import load_file
from tests.conftest import NINGXIA, ROOT

from .test_lifecycle import partial

COUNTY = "640104"
ROUNDS = 6

APPROVE = """
import sys
from catalog.store import Store
store = Store(sys.argv[1])
print("approving", flush=True)
store.approve(int(sys.argv[2]), by="crash-test")
print("approved", flush=True)
"""


def county(catalog: Catalog, days: int) -> Catalog:
    """Every implementation of COUNTY promising `days` days (a change on each of them)."""
    impls = {
        c: msgspec.structs.replace(i, promised_days=days) if i.region == COUNTY else i
        for c, i in catalog.implementations.items()
    }
    return msgspec.structs.replace(catalog, implementations=impls)


def county_rows(store: Store, version: int) -> dict[str, int]:
    return {i.code: i.promised_days for i in store.implementations(version, regions=[COUNTY])}


@pytest.mark.parametrize("seed", [9])
def test_kill_9_during_an_approval_leaves_old_or_new(db_url: str, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    catalog, report = load_file(NINGXIA)
    assert report.ok
    store = Store(db_url)
    store.publish_file(NINGXIA, by="setup")
    outcomes = []
    for round_ in range(ROUNDS):
        before = store.revision()
        old = county_rows(store, before)
        days = 1 if set(old.values()) == {0} else 0  # most rows of the county change every round
        changed = sum(1 for v in old.values() if v != days)
        sub, check = store.submit(
            partial(tmp_path / f"p{round_}.jsonl", county(catalog, days), COUNTY),
            by="clerk",
            region=COUNTY,
            max_bytes=1 << 24,
        )
        assert not check.refused and check.changed == changed > 0
        child = subprocess.Popen(
            [sys.executable, "-c", APPROVE, db_url, str(sub.id)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == b"approving\n"
        time.sleep(rng.uniform(0, 0.25))  # a random moment: before, inside or after the publish
        child.send_signal(signal.SIGKILL)
        child.wait()

        store.dispose()
        store = Store(db_url)  # as a restarted server sees it
        now = store.revision()
        held = store.submission(sub.id)
        assert held is not None
        state = held[0].state
        if now == before:
            assert state == "pending" and held[0].version is None
            assert county_rows(store, now) == old
            assert [v.version for v in store.versions()][-1] == before
            store.reject(sub.id, by="crash-test", reason="interrupted")
            outcomes.append("old")
        else:
            assert now == before + 1
            assert (state, held[0].version, held[0].decided_by) == ("approved", now, "crash-test")
            assert set(county_rows(store, now).values()) == {days}
            assert store.versions()[-1].changed == changed
            events = store.audit(limit=2)[1]
            assert {(e.action, e.target) for e in events} == {
                ("publish", f"version {now}"),
                ("approve", f"submission {sub.id}"),
            }
            outcomes.append("new")
    store.dispose()
    print("outcomes:", outcomes)
