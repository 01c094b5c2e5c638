"""A pass over a large catalog file in a process of its own while the publishing process writes
to the database: the two halves of a publish, each on its own core (in one process they would
take turns on one, the GIL being theirs to share).

A task is a generator over the file; `Apart(path, task, *args)` iterates what it yields — from
a child (`python -m catalog.store.apart TASK FILE ARGS…`, pickled objects on its standard
output, the parent its only reader) when the file is large, else right here.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

APART_FROM = 8 << 20
"""Files this size or larger are read apart; for a smaller one a process start costs more
than it saves."""

_ROOT = str(Path(__file__).resolve().parents[2])


def _validate(path: Path) -> Iterator[Any]:
    """The whole file validated for a publish: one (catalog, report)."""
    from ..validate import validate_for_publish

    with open(path, "rb", buffering=1 << 20) as fh:
        yield validate_for_publish(fh)


def _digest(path: Path, pg: str, fast: str) -> Iterator[Any]:
    from .changes import digested

    return digested(path, pg == "pg", fast == "fast")


TASKS: dict[str, Callable[..., Iterator[Any]]] = {"validate": _validate, "digest": _digest}


class Apart:
    """`with Apart(path, "validate") as results: …` — started at once, apart for a large file;
    leaving the block early stops it."""

    def __init__(self, path: str | Path, task: str, *args: str) -> None:
        self.path = Path(path)
        self.task = task
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        if self.path.stat().st_size >= APART_FROM:
            logging.getLogger("onething.store").info("publish: %s in a process of its own", task)
            path_env = os.environ.get("PYTHONPATH")
            self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed on leaving; not a pipe: read at the end
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__, task, str(self.path), *args],
                stdout=subprocess.PIPE,
                stderr=self.errors,
                env={**os.environ, "PYTHONPATH": _ROOT + (os.pathsep + path_env if path_env else "")},
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
                self.process.communicate()
            self.errors.close()

    def __iter__(self) -> Iterator[Any]:
        if self.process is None:
            yield from TASKS[self.task](self.path, *self.args)
            return
        assert self.process.stdout is not None
        out = self.process.stdout
        while True:
            try:
                yield pickle.load(out)  # our own child's objects
            except EOFError:
                break
        if self.process.wait() != 0:
            self.errors.seek(0)
            raise RuntimeError(
                f"{self.task} of {self.path} in its own process failed (exit {self.process.returncode}): "
                + self.errors.read().decode(errors="replace")[-2000:]
            )

    def one(self) -> Any:
        """The task's only result."""
        [result] = list(self)
        return result


if __name__ == "__main__":
    task, file, *rest = sys.argv[1:]
    with os.fdopen(sys.stdout.fileno(), "wb", buffering=1 << 20, closefd=False) as stdout:
        for obj in TASKS[task](Path(file), *rest):
            pickle.dump(obj, stdout, protocol=pickle.HIGHEST_PROTOCOL)
