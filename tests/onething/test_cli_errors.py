"""The command line's expected failures (issue 11, point 7): one line on stderr, a documented
exit code (`onething.cli`), never a traceback."""

from __future__ import annotations

import argparse
import subprocess

import pytest

from onething.cli import EXIT_BUSY, EXIT_DATABASE, EXIT_USAGE, expected_failure
from tests.conftest import NINGXIA, onething

DEAD_PG = "postgresql+psycopg://onething:s3cret@127.0.0.1:1/test"


def _one_line(run: subprocess.CompletedProcess[str], code: int, command: str) -> str:
    assert run.returncode == code, (run.returncode, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"onething {command}: ") and "Traceback" not in run.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("import", str(NINGXIA), "--db", DEAD_PG),
        ("export", "--db", DEAD_PG),
        ("token", "create", "--role", "admin", "--name", "ops", "--db", DEAD_PG),
        ("token", "list", "--db", DEAD_PG),
        ("serve", "--db", DEAD_PG, "--port", "1"),
    ],
)
def test_an_unreachable_database_is_one_line_and_exit_3(args):
    line = _one_line(onething(*args), EXIT_DATABASE, args[0])
    assert "cannot reach the database" in line and "127.0.0.1:1" in line
    assert "s3cret" not in line  # the password is not printed


def test_an_unopenable_sqlite_file_is_exit_3(tmp_path):
    url = f"sqlite:///{tmp_path}/no/such/dir/onething.db"
    _one_line(onething("export", "--db", url), EXIT_DATABASE, "export")


def test_a_bad_database_url_is_exit_2():
    line = _one_line(onething("export", "--db", "nonsense://x"), EXIT_USAGE, "export")
    assert "bad database URL" in line


def test_unreadable_and_unwritable_files_are_exit_2(tmp_path, sqlite_url):
    for command in ("validate", "import"):
        _one_line(onething(command, str(tmp_path / "missing.jsonl")), EXIT_USAGE, command)
    _one_line(onething("validate", str(tmp_path)), EXIT_USAGE, "validate")  # a directory
    assert onething("import", str(NINGXIA), "--db", sqlite_url).returncode == 0
    line = _one_line(
        onething("export", "--db", sqlite_url, "--out", str(tmp_path / "no" / "x.jsonl")),
        EXIT_USAGE,
        "export",
    )
    assert "No such file or directory" in line


def test_bad_arguments_are_one_line_and_exit_2():
    run = onething("token", "create", "--role", "root", "--name", "x")
    assert run.returncode == EXIT_USAGE
    assert (
        run.stderr.strip().splitlines()
        == [
            run.stderr.strip(),
        ]
        and "invalid choice" in run.stderr
        and "--help" in run.stderr
    )
    run = onething("frobnicate")
    assert run.returncode == EXIT_USAGE and len(run.stderr.strip().splitlines()) == 1


def test_a_publish_kept_waiting_is_exit_4():
    """`StoreBusy` (the store's: another publish held the catalog past the lock timeout)."""
    from catalog.store import StoreBusy

    code, line = expected_failure(StoreBusy("another publish held the catalog"), argparse.Namespace(db=None))
    assert code == EXIT_BUSY and "try again" in line
    assert expected_failure(ValueError("a bug"), argparse.Namespace()) is None
