"""`onething` — the one place command-line commands are registered.

Each command lives in its own module under `onething.commands` and exposes
`register(subparsers)`; the module imports its heavy dependencies (SQLAlchemy,
Litestar) only when it runs, so `onething validate` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Module names under onething.commands; each registers one or more commands.
COMMAND_MODULES = ("validate", "bundle", "store", "serve", "token")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
