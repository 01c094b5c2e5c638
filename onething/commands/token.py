"""`onething token create|list|revoke --db URL …` — API bearer tokens.

`create` prints the token once (only its hash is stored): the way to get the first
admin token, which can then create the others through `POST /tokens`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from catalog.words import ROLES
from onething.commands.shared import cli_user, db_action


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "token", help="create, list or revoke API tokens", description="Manage the API's bearer tokens."
    )
    sub = parser.add_subparsers(dest="token_command", required=True, metavar="ACTION")

    create = db_action(sub, "create", "create a token and print it (once)", _create)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", required=True, help="who or what holds it (revoke by this name)")
    create.add_argument(
        "--region",
        metavar="CODE",
        help="act only within this region and the regions under it (partial submissions, bundles "
        "offered there); not for admin",
    )
    create.add_argument(
        "--agency",
        metavar="USCC",
        help="role agency: the unified social credit code of the one agency whose tasks it reads and acts on",
    )

    db_action(sub, "list", "list token names and roles", _list)

    revoke = db_action(sub, "revoke", "revoke every token of a name", _revoke)
    revoke.add_argument("--name", required=True)


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[Any]:
    """The store at --db (or ONETHING_DB), disposed of at the end."""
    from catalog.store import Store  # not at the top: see onething/cli.py

    store = Store(args.db or os.environ.get("ONETHING_DB") or "sqlite:///onething.db")
    try:
        yield store
    finally:
        store.dispose()


def _create(args: argparse.Namespace) -> int:
    with _store(args) as store:
        try:
            print(store.create_token(args.name, args.role, region=args.region, agency=args.agency, by=cli_user()))
        except ValueError as exc:
            print(f"onething token: {exc}", file=sys.stderr)
            return 2
    return 0


def _list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        for name, role, region, created in store.tokens():
            print(f"{name}\t{role}\t{region or '-'}\t{created.isoformat()}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with _store(args) as store:
        count = store.revoke_tokens(args.name, by=cli_user())
    if count == 0:
        print(f"onething token: no token named {args.name!r}", file=sys.stderr)
        return 1
    print(f"revoked {count} token(s) named {args.name!r}")
    return 0

