"""`onething audit [--db URL] [--action A] [--limit N] [--json]` — who did what, newest first:
publishes, submissions, approvals, rejections and token changes."""

from __future__ import annotations

import argparse
import os

import msgspec

from onething.commands.shared import db_option


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audit", help="list the audit trail (publishes, approvals, tokens), newest first"
    )
    db_option(p)
    p.add_argument(
        "--action",
        help="only this action (publish, republish, submit, approve, approve.override, reject, token.create, "
        "token.revoke)",
    )
    p.add_argument("--limit", type=int, default=100, help="at most this many events (default 100)")
    p.add_argument("--json", action="store_true", help='print {"total":N,"events":[…]}')
    p.set_defaults(run=run_audit)


def run_audit(args: argparse.Namespace) -> int:
    from catalog.store import Store

    store = Store(args.db or os.environ.get("ONETHING_DB") or "sqlite:///onething.db")
    try:
        total, events = store.audit(action=args.action, limit=max(1, args.limit))
    finally:
        store.dispose()
    if args.json:
        print(msgspec.json.encode({"total": total, "events": events}).decode())
        return 0
    for e in events:
        detail = " ".join(f"{k}={v}" for k, v in e.detail.items() if v not in (None, ""))
        print(f"{e.at.isoformat(timespec='seconds')}  {e.by or '-'}  {e.action}  {e.target}  {detail}")
    return 0
