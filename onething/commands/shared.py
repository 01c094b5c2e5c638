"""What several commands share: the `--db` option (and an action that has it) that falls back to `ONETHING_DB`, and who
the command-line user is (the audit's `by`)."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable


def db_option(parser: argparse.ArgumentParser) -> None:
    """`--db URL`, unset by default: the command then reads `ONETHING_DB`, else the local SQLite file."""
    parser.add_argument(
        "--db", metavar="URL", default=None, help="store URL; env ONETHING_DB; default sqlite:///onething.db"
    )


def db_action(
    actions: argparse._SubParsersAction, name: str, help: str, run: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    """An action of a command that works on the store: its parser, with `--db`, set to `run`."""
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help)
    db_option(parser)
    parser.set_defaults(run=run)
    return parser


def cli_user() -> str:
    """The command-line user: who the audit says published, created or revoked."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name on this machine: say so
        return "cli"
