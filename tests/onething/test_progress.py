"""Progress on a terminal (issue 13, point 5): the long commands tell a person at a terminal how far
they are on standard error, clear the line at the end, and say nothing when it is not a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from tests.conftest import NINGXIA, ROOT, onething


def _on_a_terminal(*args: str) -> tuple[int, bytes, str]:
    """Run the command line with standard error on a pseudo-terminal: (exit code, what the
    terminal showed, standard output)."""
    main, side = pty.openpty()
    try:
        done = subprocess.Popen(
            [sys.executable, "-m", "onething", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=side,
            text=True,
        )
        os.close(side)
        shown = bytearray()
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            shown += chunk
        out, _ = done.communicate(timeout=300)
    finally:
        os.close(main)
    return done.returncode, bytes(shown), out


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('progress') / 'c.db'}"
    assert onething("publish", str(NINGXIA), "--db", url).returncode == 0
    return url


@pytest.mark.parametrize(
    ("args", "doing"),
    [
        (("publish", str(NINGXIA), "--note", "again"), b"reading and validating: "),
        (("export", "--out", "{tmp}/c.jsonl"), b"exporting: "),
        (("export", "--format", "turtle", "--out", "{tmp}/c.ttl"), b"exporting: "),
        (("stats",), b"checking bundles: "),  # the figures themselves are read as stored at publish
        (("advise",), b"composing bundles: "),
    ],
)
def test_long_commands_show_progress_on_a_terminal_only(db, tmp_path, args, doing):
    args = tuple(a.format(tmp=tmp_path) for a in args)
    code, shown, _ = _on_a_terminal(*args, "--db", db)
    assert code == 0, shown
    assert doing in shown
    assert shown.endswith(b"\r\x1b[K"), shown[-80:]  # the progress line is cleared at the end
    quiet = onething(*args, "--db", db)
    assert quiet.returncode == 0 and quiet.stderr == ""
