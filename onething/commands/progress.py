"""Progress on a terminal for the commands that take a while (export, stats, advise): one line
on standard error, rewritten at most five times a second, cleared at the end; nothing at all
when standard error is not a terminal (a pipe, a log, a test)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Report = Callable[..., None]


@contextmanager
def counter(doing: str, unit: str, *, stream: TextIO | None = None) -> Iterator[Report | None]:
    """`with counter("exporting", "records") as progress:` — `progress(n)` or `progress(n, total)`
    says how far it is; `progress` is None when there is no terminal to tell."""
    out = sys.stderr if stream is None else stream
    if not out.isatty():
        yield None
        return
    last = 0.0

    def report(done: int, total: int | None = None) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < 0.2 and (total is None or done < total):
            return
        last = now
        of = f" / {total:,}" if total is not None else ""
        out.write(f"\r\033[K{doing}: {done:,}{of} {unit}")
        out.flush()

    try:
        yield report
    finally:
        out.write("\r\033[K")
        out.flush()
