"""What the benchmarks share: where the repository is, a scratch store for one run, a server.

`bench/scale.py` runs its phases in subprocesses that import this module and report their peak
RSS: SQLAlchemy and httpx are imported where they are used, not here (at the top they add 21 and
18 MiB to a bare interpreter's 10 MiB, measured with `ru_maxrss`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_store(db: str, name: str) -> Iterator[tuple[str, Path]]:
    """The URL of a store for one run of benchmark `name`, and a scratch folder: `db` is
    `sqlite` (a file in the folder), `postgres` (a schema of its own on the local server, dropped
    at the end) or an SQLAlchemy URL used as it is. The folder is removed at the end."""
    tmp = Path(tempfile.mkdtemp(prefix=f"onething-{name}-"))
    schema = None
    if db == "sqlite":
        url = f"sqlite:///{tmp / f'{name}.db'}"
    elif db == "postgres":
        schema = f"bench_{name}_{os.getpid()}"
        _on_server(f'CREATE SCHEMA "{schema}"')
        url = f"{PG}?options=-csearch_path%3D{schema}"
    else:
        url = db
    try:
        yield url, tmp
    finally:
        if schema is not None:
            _on_server(f'DROP SCHEMA "{schema}" CASCADE')
        shutil.rmtree(tmp, ignore_errors=True)


def _on_server(statement: str) -> None:
    import sqlalchemy as sa  # not at the top: see the module's docstring

    engine = sa.create_engine(PG)
    with engine.begin() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started for a run: terminate, then kill if it has not ended within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, log: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`onething serve` on the store at `url` and a free port, its stderr to `log`: the process
    and its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "onething", "serve", "--db", url, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115 - the child holds it for its life
    )
    return server, f"http://127.0.0.1:{port}"


def wait_until_ready(server: subprocess.Popen, log: Path, ready: Callable[[], bool], pause: float = 0.1) -> None:
    """Ask `ready()` every `pause` seconds until it says yes; the end of the server's log if the
    server dies first."""
    import httpx  # not at the top: see the module's docstring

    while True:
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            raise SystemExit(log.read_text()[-3000:])
        time.sleep(pause)
