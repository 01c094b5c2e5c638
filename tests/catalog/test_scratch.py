"""Temporaries under one folder of ours, swept at start (issue 18 point 5): a process's folder is
locked while it lives; what a `kill -9` left is removed when the service next starts, and what a
living process uses is not."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from catalog import scratch
from tests.conftest import ROOT, onething

HOLDER = """
import sys, time
from catalog import scratch
path = scratch.folder()
(path / "upload-x.jsonl").write_bytes(b"x" * 100_000)
print(path, flush=True)
time.sleep(120)
"""


def _holder(env: dict[str, str]) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "scratch"
    monkeypatch.setenv("ONETHING_TMPDIR", str(out))
    return out


def test_the_folders_of_killed_processes_go_at_start_and_living_ones_stay(root: Path, sqlite_url: str):
    env = {**os.environ, "ONETHING_TMPDIR": str(root), "PYTHONPATH": str(ROOT)}
    killed, left = _holder(env)
    living, used = _holder(env)
    try:
        assert left.parent == root and left.name == str(killed.pid)
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        assert (left / "upload-x.jsonl").exists()  # kill -9 leaves it
        unowned = root / "999999999"  # no lock file, and no such process
        unowned.mkdir()
        (unowned / "publish-1").mkdir()
        foreign = root / "notes"  # not a folder we would name: left alone
        foreign.mkdir()
        create_app(Settings(db_url=sqlite_url, token_ttl=0))  # the service starts
        assert not left.exists() and not unowned.exists()
        assert (used / "upload-x.jsonl").exists() and foreign.exists()
    finally:
        living.kill()
        living.wait(10)
        if living.stdout is not None:
            living.stdout.close()
        if killed.stdout is not None:
            killed.stdout.close()
    assert scratch.sweep() >= 1 and not used.exists()  # its owner gone: the next sweep takes it


def test_a_killed_upload_is_removed_when_the_service_restarts(root: Path, sqlite_url: str):
    """The issue's case: `onething serve` killed with -9 while a `PUT /catalog` streams in."""
    created = onething("token", "create", "--db", sqlite_url, "--role", "admin", "--name", "ops")
    assert created.returncode == 0, created.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ONETHING_TMPDIR": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "onething", "serve", "--db", sqlite_url, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        upload = socket.create_connection(("127.0.0.1", port))
        head = (
            f"PUT /catalog HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {created.stdout.strip()}\r\n"
            f"Content-Type: application/x-ndjson\r\nContent-Length: {50 << 20}\r\n\r\n"
        )
        upload.sendall(head.encode() + b"\n" * (1 << 20))  # a 50 MB body, stalled after 1 MB
        ours = root / str(proc.pid)
        for _ in range(100):
            if any(ours.glob("upload-*")):
                break
            time.sleep(0.1)
        [partial] = list(ours.glob("upload-*"))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    upload.close()
    assert partial.exists()
    create_app(Settings(db_url=sqlite_url, token_ttl=0))
    assert not partial.exists() and not ours.exists()
