"""`onething` — the one place command-line commands are registered.

Each command lives in its own module under `onething.commands` and exposes
`register(subparsers)`; the module imports its heavy dependencies (SQLAlchemy,
Litestar) only when it runs, so `onething validate` starts fast. Measured with
`python -X importtime` (2 cores, loaded): the CLI with every command's parser, 71 ms; what the
commands import when they run, on top of that: `catalog.store` 4.4 s, `catalog.validate` 1.3 s,
`bundler` 1.0 s, `uvicorn` 0.2 s, `api.relay` 0.16 s. Every command module is imported to build
the parser, so those imports stay inside the functions that run the command.

Every expected failure is one line on stderr (`onething COMMAND: what went wrong`) and one
of these exit codes; anything else is a bug and keeps its traceback:

| code | meaning |
|---|---|
| 0 | done |
| 1 | refused: the catalog has error findings (nothing imported), the bundle cannot be composed, nothing published to export, no such token |
| 2 | bad arguments, a bad database URL, or a file that cannot be read or written |
| 3 | the database cannot be reached (or opened) |
| 4 | the store is busy: a publish kept being overtaken by concurrent writes — nothing changed, try again |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

# Module names under onething.commands; each registers one or more commands.
COMMAND_MODULES = ("validate", "bundle", "store", "serve", "token", "stats", "audit", "cases")

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3
EXIT_BUSY = 4
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (and `--help` says the rest)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="onething",
        description="四级四同 service catalog and 'one thing, one visit' bundler",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"onething.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"onething.commands.{name}":
                raise
            continue  # a command not written yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:
        known = expected_failure(exc, args)
        if known is None:
            raise
        code, message = known
        print(f"onething {args.command}: {message}", file=sys.stderr)
        return code


def _classes(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """The named exception classes of `module`, if it is loaded: an exception of a module never
    imported cannot be in flight, so the CLI matches by class without paying for an import
    (catalog.store and SQLAlchemy cost a command's start; psycopg is an optional extra)."""
    loaded = sys.modules.get(module)
    found = (getattr(loaded, name, None) for name in names)
    return tuple(cls for cls in found if isinstance(cls, type) and issubclass(cls, BaseException))


def expected_failure(exc: BaseException, args: argparse.Namespace) -> tuple[int, str] | None:
    """(exit code, one line) for a failure a user can meet and act on; None for a bug."""
    if isinstance(exc, _classes("catalog.store", "StoreOutdated") + _classes("api.settings", "SettingsError")):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, _classes("catalog.store.publish.writes", "StoreBusy")):
        return EXIT_BUSY, f"{exc}; nothing was published, try again"
    if isinstance(exc, _classes("sqlalchemy.exc", "SQLAlchemyError")):
        where = _database(args)
        orig = getattr(exc, "orig", None) or exc
        reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:300]
        if isinstance(exc, _classes("sqlalchemy.exc", "ArgumentError")):  # a bad URL or an unknown dialect
            return EXIT_USAGE, f"bad database URL {where}: {reason}"
        rolled_back = _classes("psycopg.errors", "TransactionRollback", "DeadlockDetected", "SerializationFailure")
        if isinstance(orig, rolled_back):
            return EXIT_BUSY, f"the database rolled the write back ({reason}); nothing changed, try again"
        unreachable = ("OperationalError", "InterfaceError", "DisconnectionError", "TimeoutError")
        if isinstance(exc, _classes("sqlalchemy.exc", *unreachable)):
            return EXIT_DATABASE, f"cannot reach the database {where}: {reason}"
        return None
    if isinstance(exc, OSError):
        what = exc.filename if exc.filename is not None else ""
        return EXIT_USAGE, f"{what}: {exc.strerror or exc}" if what else str(exc.strerror or exc)
    if isinstance(exc, UnicodeDecodeError):
        return EXIT_USAGE, f"the input is not UTF-8 text ({exc.reason} at byte {exc.start})"
    return None


def _database(args: argparse.Namespace) -> str:
    """The database URL the command used, without a password."""
    url = getattr(args, "db", None) or os.environ.get("ONETHING_DB") or "sqlite:///onething.db"
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL: show its scheme only
        return url.split(":", 1)[0] + ":…"


if __name__ == "__main__":
    sys.exit(main())
