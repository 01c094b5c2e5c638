"""A PostgreSQL primary and its hot standby, made on this machine for one test session or benchmark run.

Two clusters in a temporary folder, each on a free port of 127.0.0.1: the primary (`initdb`, whose
default `pg_hba.conf` lets local replication connections in; `wal_level = replica` is the
default), and a standby copied from it by `pg_basebackup -R` through a replication slot, so the
primary keeps every WAL segment the standby has not received, streaming and replaying as a hot
standby (`hot_standby_feedback` on: the primary's vacuum keeps the rows the standby's reads
still see). The system's cluster on 5432 is neither read nor changed.

PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user (Debian's
packages make it). `Unavailable` says why a pair cannot be made here (no PostgreSQL programs, no
such user, a program that failed, with the end of its log).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from bench.common import free_port

SLOT = "onething_standby"


class Unavailable(RuntimeError):
    """A primary and standby cannot be made on this machine; the message says why."""


@dataclass(frozen=True)
class Pair:
    """The two servers' SQLAlchemy URLs (database `postgres`, user `postgres`, trust)."""

    primary: str
    standby: str
    folder: Path


def binaries() -> Path:
    """The folder of PostgreSQL's server programs: ONETHING_PG_BIN, else the newest Debian
    `/usr/lib/postgresql/<major>/bin` that has them, else the one `pg_config` names."""
    named = os.environ.get("ONETHING_PG_BIN")
    candidates = [Path(named)] if named else []
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        majors = sorted((p for p in debian.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        candidates += [p / "bin" for p in reversed(majors)]
    if shutil.which("pg_config"):
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(bindir.stdout.strip()))
    for folder in candidates:
        if all((folder / program).exists() for program in ("initdb", "pg_ctl", "pg_basebackup")):
            return folder
    raise Unavailable("PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) are not installed")


def _as_server_user() -> list[str]:
    """The prefix that runs a PostgreSQL program: nothing, or `runuser -u postgres --` as root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable("running as root and there is no `postgres` user to run PostgreSQL as") from None
    if shutil.which("runuser") is None:
        raise Unavailable("running as root and `runuser` is missing (needed to run PostgreSQL as `postgres`)")
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def replication_pair(*, durable: bool = True) -> Iterator[Pair]:
    """A primary and its streaming hot standby, stopped and removed at the end. `durable=False`
    (tests) turns fsync off: nothing here must survive a crash of the machine."""
    bin_dir = binaries()
    prefix = _as_server_user()
    folder = Path(tempfile.mkdtemp(prefix="onething-pair-"))
    if prefix:
        shutil.chown(folder, "postgres")
    ports = {"primary": free_port(), "standby": free_port()}
    started: list[Path] = []

    def run(*args: str, log: Path | None = None) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
            raise Unavailable(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}\n{tail}".strip())

    def start(name: str) -> None:
        data, log = folder / name, folder / f"{name}.log"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", log=log)
        started.append(data)

    def settings(name: str, extra: str) -> None:
        with open(folder / name / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                f"\nport = {ports[name]}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{folder}'\nmax_connections = 200\n"
                f"{'' if durable else 'fsync = off'}\n{extra}\n"
            )

    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(folder / "primary"), "-U", "postgres"]
        run(*initdb, "--auth=trust", "-E", "UTF8", "--locale=C", *([] if durable else ["--no-sync"]))
        settings("primary", "wal_level = replica\nmax_wal_senders = 4\nmax_replication_slots = 4")
        start("primary")
        run(
            str(bin_dir / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(ports["primary"]), "-U", "postgres"),
            *("-D", str(folder / "standby"), "-R", "-X", "stream", "-c", "fast", "-C", "-S", SLOT),
        )
        settings("standby", "hot_standby = on\nhot_standby_feedback = on")
        start("standby")
        pair = Pair(
            primary=f"postgresql+psycopg://postgres@127.0.0.1:{ports['primary']}/postgres",
            standby=f"postgresql+psycopg://postgres@127.0.0.1:{ports['standby']}/postgres",
            folder=folder,
        )
        _wait_streaming(pair)
        yield pair
    finally:
        for data in reversed(started):
            with suppress(Unavailable, subprocess.TimeoutExpired):
                run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _wait_streaming(pair: Pair, within: float = 30.0) -> None:
    """Until the primary's WAL sender reports the standby streaming."""
    import sqlalchemy as sa

    engine = sa.create_engine(pair.primary)
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.exec_driver_sql(
                    "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'"
                ).first():
                    return
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise Unavailable(f"the standby did not start streaming within {within:g} s")


def replay(standby: str, *, paused: bool) -> None:
    """Pause or resume the standby's replay of the WAL it receives (`pg_wal_replay_pause()`: no
    record after the one being applied is replayed until it resumes; it still receives them)."""
    import sqlalchemy as sa

    engine = sa.create_engine(standby)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()")
    finally:
        engine.dispose()


def wait_replayed(pair: Pair, within: float = 60.0) -> float:
    """Until the standby has replayed all the WAL the primary has written now; the seconds it took."""
    import sqlalchemy as sa

    start = time.monotonic()
    primary, standby = sa.create_engine(pair.primary), sa.create_engine(pair.standby)
    try:
        with primary.connect() as conn:
            lsn = conn.exec_driver_sql("SELECT pg_current_wal_lsn()").scalar()
        with standby.connect() as conn:
            while not conn.exec_driver_sql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn").scalar():
                if time.monotonic() - start > within:
                    raise TimeoutError(f"the standby did not replay up to {lsn} within {within:g} s")
                time.sleep(0.01)
    finally:
        primary.dispose()
        standby.dispose()
    return time.monotonic() - start
