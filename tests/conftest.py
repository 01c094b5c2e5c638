"""Shared fixtures: the real services the suites talk to.

On a developer's fresh machine a missing PostgreSQL, Redis or Chromium skips
its suites with a clear message; in CI (`ONETHING_REQUIRE_SERVICES=1`, set by
`.ci/run`) a missing one fails instead, so CI always covers everything.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from hypothesis import settings as hypothesis_settings

ROOT = Path(__file__).resolve().parent.parent
NINGXIA = ROOT / "fixtures" / "ningxia.jsonl"
PG_URL = os.environ.get("ONETHING_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ONETHING_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("ONETHING_TEST_NATS_URL", "nats://127.0.0.1:4222")
REQUIRE = os.environ.get("ONETHING_REQUIRE_SERVICES") == "1"

# A randomised test can be replayed. Hypothesis's tests print, on failure, the falsifying example
# and a `@reproduce_failure(...)` line that replays it (and `pytest --hypothesis-seed=N` replays a
# whole run); a test drawing its own random moments prints its seed and reads it back from
# ONETHING_TEST_SEED (`test_store_crash.py`); every other `random.Random(n)` has a fixed seed.
hypothesis_settings.register_profile("onething", print_blob=True)
hypothesis_settings.load_profile("onething")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+psycopg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), 2):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A port nothing listens on now (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need(what: str, available: bool) -> None:
    """Skip (fresh machine) or fail (CI) when a real service is missing."""
    if available:
        return
    message = f"{what} is not available on this machine"
    if REQUIRE:
        pytest.fail(f"{message}, and CI requires it (ONETHING_REQUIRE_SERVICES=1)")
    pytest.skip(f"{message}: this suite is skipped here; .ci/run installs or demands it")


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    need(f"PostgreSQL at {PG_URL}", _reachable(PG_URL, 5432))
    return PG_URL


@pytest.fixture
def pg_url(pg_base_url: str) -> str:
    """A fresh PostgreSQL schema per test, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(pg_base_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in pg_base_url else "?"
    yield f"{pg_base_url}{sep}options=-csearch_path%3D{schema}"
    engine = sa.create_engine(pg_base_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'onething.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each store test runs against a real SQLite file and the real PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def redis_url() -> str:
    need(f"Redis at {REDIS_URL}", _reachable(REDIS_URL, 6379))
    return REDIS_URL


@pytest.fixture(scope="session")
def nats_url() -> str:
    need(f"NATS JetStream at {NATS_URL}", _reachable(NATS_URL, 4222))
    return NATS_URL


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    need("Chromium (Debian package `chromium`)", path is not None)
    assert path is not None
    return path


@pytest.fixture(scope="session", autouse=True)
def scratch_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Our temporaries (`catalog.scratch`) go under this session's temporary folder, for this process
    and every process it starts, not the user's `$TMPDIR/onething-<uid>`; under pytest-xdist each
    worker has its own. A service's start-up sweep removes what stopped processes left (the crash
    tests' `kill -9`s) and logs it at warning level: one worker's app is not to sweep, and log,
    what the other worker's killed processes left."""
    root = tmp_path_factory.mktemp("scratch")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONETHING_TMPDIR", str(root))
        yield root


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests leave what a person should look at (screenshots)."""
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    return out


def onething(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess[str]:
    """The command line, run as a user runs it (a process of its own), from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "onething", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kw,
    )


# The markers declared in pyproject.toml, set from the services a test asks for, so that
# `pytest -m "not postgres"` (or browser, redis) selects by what a machine has.
MARKED_BY = {"pg_base_url": "postgres", "redis_url": "redis", "chromium": "browser", "nats_url": "nats"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgres":
            names.add("pg_base_url")
        for fixture, marker in MARKED_BY.items():
            if fixture in names:
                item.add_marker(marker)


PAGES = "tests/api/pages/"
"""The page tests share the session's served sites and browser (tests/api/pages/conftest.py)."""


# tryfirst: before pytest-xdist's own choice of scheduler; optionalhook: a run without pytest-xdist
# has no such hook.
@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`pytest -n 2 --dist loadfile` (`make test`): a test module runs on one worker (its module
    fixtures are made once), and so do all the page tests together, in file order — the order
    they are known to pass in on the site they share.

    Not `--dist loadgroup` and `xdist_group` marks: pytest-xdist 3.8 groups by rewriting a test's
    node id, which pytest 9.2's structured node ids ignore, so the groups are silently lost
    (pytest-dev/pytest-xdist#1386)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class PagesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return PAGES if nodeid.startswith(PAGES) else super()._split_scope(nodeid)

    return PagesTogether(config, log)
