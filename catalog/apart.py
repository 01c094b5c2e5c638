"""A pass over a large catalog file in a process of its own while the publishing process writes
to the database: the two halves of a publish, each on its own core (in one process they would
take turns on one, the GIL being theirs to share).

A task is a generator over the file, pure and light to import (`validate`, `digest`);
`Apart(path, task, *args)` iterates what it yields — from a child (`python -m catalog.apart
TASK FILE ARGS…`, pickled objects on its standard output, the parent its only reader) when the
file is large, else right here.
"""

from __future__ import annotations

import logging
import os
import pickle
import selectors
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from . import scratch

APART_FROM = 8 << 20
"""Files this size or larger are read apart; for a smaller one a process start costs more
than it saves."""

_ROOT = str(Path(__file__).resolve().parents[1])


COUNTY_SPOOL = 32 << 20
"""Bytes of catalog file per scratch file a publish's validation sets the records below the
county aside in (`validate_for_publish`): a national file of five levels takes 64 of them."""


def _validate(path: Path, below: str = "") -> Iterator[Any]:
    """The whole file validated for a publish: one (catalog, report, figures). With `below`,
    the records below the county are checked a few counties at a time and their regions'
    figures pickled to the file of that name (`validate_for_publish`)."""
    from .validate import validate_for_publish

    with open(path, "rb", buffering=1 << 20) as fh:
        if not below:
            yield validate_for_publish(fh)
            return
        counties = min(64, 1 + path.stat().st_size // COUNTY_SPOOL)
        with open(below, "wb", buffering=1 << 16) as out:
            result = validate_for_publish(fh, out, counties)
        yield result


def _digest(path: Path, pg: str, fast: str, part: str = "0", parts: str = "1") -> Iterator[Any]:
    from .digest import digested

    return digested(path, pg == "pg", fast == "fast", int(part), int(parts))


TASKS: dict[str, Callable[..., Iterator[Any]]] = {"validate": _validate, "digest": _digest}


class Apart:
    """`with Apart(path, "validate") as results: …` — started at once, apart for a large file;
    leaving the block early stops it. With `parts`, a large file is cut at line ends into that
    many runs of the task, each in its process (the task takes `part` and `parts` last); their
    objects come as each is sent, `(part, object)`, and `(part, None)` when a part is done."""

    def __init__(self, path: str | Path, task: str, *args: str, parts: int = 1) -> None:
        self.path = Path(path)
        self.task = task
        self.args = args
        self.processes: list[subprocess.Popen[bytes]] = []
        if self.path.stat().st_size < APART_FROM:
            return  # read right here, as one part
        self.errors = tempfile.TemporaryFile(dir=scratch.folder())  # noqa: SIM115 - closed on leaving; not a pipe: read at the end
        where = "a process of its own" if parts == 1 else f"{parts} processes of their own"
        logging.getLogger("onething.store").info("publish: %s in %s", task, where)
        path_env = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": _ROOT + (os.pathsep + path_env if path_env else "")}
        for part in range(parts):
            cut = (str(part), str(parts)) if parts > 1 else ()
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", __name__, task, str(self.path), *args, *cut],
                    stdout=subprocess.PIPE,
                    stderr=self.errors,
                    env=env,
                )
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
        if self.processes:
            self.errors.close()

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        if not self.processes:
            for obj in TASKS[self.task](self.path, *self.args):
                yield 0, obj
            yield 0, None
            return
        with selectors.DefaultSelector() as selector:
            for part, process in enumerate(self.processes):
                assert process.stdout is not None
                selector.register(process.stdout, selectors.EVENT_READ, (part, bytearray()))
            while selector.get_map():
                for key, _ in selector.select():
                    part, buffer = key.data
                    chunk = os.read(key.fd, 1 << 20)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        self._check(part)
                        yield part, None
                        continue
                    buffer += chunk
                    while len(buffer) >= 8:
                        size = int.from_bytes(buffer[:8], "little")
                        if len(buffer) < 8 + size:
                            break
                        # our own child's objects, read in place (a slice would copy them:
                        # a first publish's result is tens of megabytes at five levels)
                        with memoryview(buffer) as view, view[8 : 8 + size] as body:
                            obj = pickle.loads(body)
                        del buffer[: 8 + size]
                        yield part, obj

    def _check(self, part: int) -> None:
        process = self.processes[part]
        if process.wait() != 0:
            self.errors.seek(0)
            raise RuntimeError(
                f"{self.task} of {self.path} in its own process failed (exit {process.returncode}): "
                + self.errors.read().decode(errors="replace")[-2000:]
            )

    def one(self) -> Any:
        """The task's only result."""
        [(_, result), _end] = list(self)
        return result


if __name__ == "__main__":
    task, file, *rest = sys.argv[1:]
    with os.fdopen(sys.stdout.fileno(), "wb", buffering=1 << 20, closefd=False) as stdout:
        for obj in TASKS[task](Path(file), *rest):
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            stdout.write(len(data).to_bytes(8, "little"))
            stdout.write(data)
