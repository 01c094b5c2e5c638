"""`onething cases …` — the operator's side of cases (§7).

- `cases purge --before DATE` erases the personal data (applicant, form) of cases that are not
  open and ended before DATE; every figure stays.
- `cases calendar add FILE` adds a year's official schedule (holidays and 调休 workdays, JSON:
  `{"year": 2027, "holidays": ["2027-01-01", …], "workdays": ["2027-02-07", …]}`) and counts the
  provisional due dates again; `cases calendar list` shows the years added.
- `cases relay [--nats URL] [--once]` sends the tasks waiting in the push outbox to NATS
  JetStream (§7.2, `api.relay`): beside instances run with `ONETHING_NATS_RELAY=0`, or once to
  send what a stopped instance left (`--once`: until the outbox is empty; exit 3 when the broker
  cannot be reached).
- `cases seed` (from the repository: `python -m onething cases seed`) hands in a few hundred
  generated cases over the catalog (`fixtures.cases`) and
  moves them along — open, done, overdue, rejected, rated, rectified — so that the pages show
  something on a fresh machine; nothing when the store already holds cases.
- `cases keygen FILE` writes a new key for the personal data (mode 0600; never overwrites).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import date

from onething.commands.shared import cli_user, db_action


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cases",
        help="purge personal data, add a year's calendar, make a key",
        description=__doc__.split("\n")[0],
    )
    sub = parser.add_subparsers(dest="cases_command", required=True, metavar="ACTION")

    purge = db_action(sub, "purge", "erase personal data of cases ended before a date", _purge)
    purge.add_argument("--before", required=True, type=_day, metavar="YYYY-MM-DD")

    calendar = sub.add_parser("calendar", help="the official calendar's years added as data")
    cal = calendar.add_subparsers(dest="calendar_command", required=True, metavar="ACTION")
    add = db_action(cal, "add", "add (or replace) a year's schedule from a JSON file", _calendar_add)
    add.add_argument("file", metavar="FILE")
    db_action(cal, "list", "the years added", _calendar_list)

    relay = db_action(sub, "relay", "send the tasks waiting in the outbox to NATS JetStream", _relay)
    relay.add_argument(
        "--nats", metavar="URL", default=None, help="the broker; env ONETHING_NATS_URL (required)"
    )
    relay.add_argument("--once", action="store_true", help="stop once the outbox is empty")
    seeder = db_action(sub, "seed", "hand in generated cases (the demo fixture) into an empty store", _seed)
    seeder.add_argument("--cases", type=int, default=300, metavar="N", help="how many (default 300)")
    seeder.add_argument("--seed", type=int, default=20, metavar="S", help="random seed (default 20)")
    seeder.add_argument(
        "--today",
        type=_day,
        default=None,
        metavar="YYYY-MM-DD",
        help="the last day (default: today in Beijing)",
    )

    keygen = sub.add_parser("keygen", help="write a new key file for personal data (mode 0600)")
    keygen.add_argument("file", metavar="FILE")
    keygen.set_defaults(run=_keygen)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _store(args: argparse.Namespace):
    from catalog.store import Store

    return Store(args.db or os.environ.get("ONETHING_DB") or "sqlite:///onething.db")


def _purge(args: argparse.Namespace) -> int:
    from api.services.cases import china_today

    store = _store(args)
    try:
        count = store.cases.purge(args.before, by=cli_user(), today=china_today())
    finally:
        store.dispose()
    print(f"erased the personal data of {count} case(s) ended before {args.before.isoformat()}")
    return 0


def _calendar_add(args: argparse.Namespace) -> int:
    import msgspec

    from casework import ScheduleError, WorkCalendar
    from casework.calendar import checked, schedule_decoder

    try:
        with open(args.file, "rb") as fh:
            schedule = checked(schedule_decoder.decode(fh.read()))
    except (msgspec.DecodeError, ScheduleError) as exc:
        print(f"onething cases: {args.file}: {exc}", file=sys.stderr)
        return 2
    store = _store(args)
    try:
        store.cases.add_schedule(schedule, by=cli_user())
        moved = store.cases.recount(WorkCalendar(store.cases.schedules()))
    finally:
        store.dispose()
    print(
        f"added the calendar of {schedule.year}: {len(schedule.holidays)} holidays, "
        f"{len(schedule.workdays)} adjusted workdays; {moved} due date(s) counted again"
    )
    return 0


def _calendar_list(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        for s in store.cases.schedules():
            print(f"{s.year}\t{len(s.holidays)} holidays\t{len(s.workdays)} workdays\t{s.source}")
    finally:
        store.dispose()
    return 0


def _relay(args: argparse.Namespace) -> int:
    from api.relay import BrokerDown, Relay, RelayConfig
    from catalog.store.outbox import Outbox

    url = args.nats or os.environ.get("ONETHING_NATS_URL")
    if not url:
        print("onething cases: no broker: give --nats URL or set ONETHING_NATS_URL", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    store = _store(args)
    try:
        relay = Relay(Outbox(store.engine), RelayConfig.from_env(url))
        try:
            tally = asyncio.run(relay.run(once=args.once))
        except BrokerDown as exc:
            print(f"onething cases: {exc}; the tasks wait in the outbox", file=sys.stderr)
            return 3
    finally:
        store.dispose()
    print(f"published {tally.published} task message(s), {tally.duplicates} dropped by JetStream as copies")
    return 0


def _seed(args: argparse.Namespace) -> int:
    from api.services.cases import china_today

    try:  # the repository's generator, not an installed package: `python -m onething` from the tree
        from fixtures.cases import seed
    except ModuleNotFoundError:
        print(
            "onething cases: seed needs the repository's fixtures/: run `python -m onething "
            "cases seed` from the repository's root",
            file=sys.stderr,
        )
        return 2

    store = _store(args)
    try:
        made = seed(store, cases=args.cases, seed=args.seed, today=args.today or china_today())
    finally:
        store.dispose()
    what = "the store already holds cases; none added" if made.skipped else f"handed in {args.cases} case(s)"
    r = made.rectifications
    print(
        f"{what}: {made.cases} cases ({made.open} open, {made.done} done, {made.closed} closed, "
        f"{made.overdue} overdue), {made.ratings} ratings ({made.bad} bad), rectifications "
        f"{r['open']} open, {r['answered']} answered, {r['closed']} closed ({r['overdue']} overdue)"
    )
    return 0


def _keygen(args: argparse.Namespace) -> int:
    from catalog.store.cases import write_key_file

    if not write_key_file(args.file):
        print(f"{args.file} is already there; kept as it is")
        return 0
    print(f"wrote a new case key to {args.file} (mode 0600): set ONETHING_CASE_KEY_FILE={args.file}")
    return 0
