"""`onething import` and `onething export`: the catalog in and out of a database."""

from __future__ import annotations

import argparse
import sys

DEFAULT_DB = "sqlite:///onething.db"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="validate a catalog and publish it to a database, all or nothing",
        description="Validate CATALOG.jsonl; publish it only when it has no error finding "
        "(exit 1 with the findings otherwise, the database unchanged).",
    )
    p.add_argument("catalog", metavar="CATALOG.jsonl")
    p.add_argument("--db", default=DEFAULT_DB, help=f"SQLAlchemy URL (default {DEFAULT_DB})")
    p.set_defaults(run=run_import)

    p = sub.add_parser("export", help="write the published catalog as JSONL")
    p.add_argument("--db", default=DEFAULT_DB, help=f"SQLAlchemy URL (default {DEFAULT_DB})")
    p.add_argument("-o", "--out", default="-", help="file to write (default: standard output)")
    p.set_defaults(run=run_export)


def _progress(stage: str):
    """A one-line counter on a terminal; nothing when stderr is a file or pipe."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{stage}: {done:,}/{total:,} records ({100 * done // max(total, 1)}%){end}")
        sys.stderr.flush()

    return show


def run_import(args: argparse.Namespace) -> int:
    from catalog.store import Store
    from catalog.validate import load_file
    from onething.commands.validate import print_report

    def reading(line: int) -> None:
        sys.stderr.write(f"\rreading and validating: {line:,} lines")
        sys.stderr.flush()

    try:
        catalog, report = load_file(args.catalog, progress=reading if sys.stderr.isatty() else None)
        if sys.stderr.isatty():
            sys.stderr.write(f"\rread and validated {args.catalog}\033[K\n")
    except OSError as exc:
        print(f"onething import: cannot read {args.catalog}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    store = Store(args.db)
    try:
        revision = None
        if report.ok:
            # Designers' bundles already in the store stay; they must still hold.
            revision, merged_report = store.publish_checked(catalog, progress=_progress("publishing"))
            report = merged_report or report
        if revision is None:
            print_report(report, sys.stdout)
            print(
                f"onething import: {args.catalog} was not imported; the database is unchanged.",
                file=sys.stderr,
            )
            return 1
    finally:
        store.dispose()
    counts = ", ".join(
        f"{len(getattr(catalog, name)):,} {name}"
        for name in ("regions", "materials", "fields", "items", "implementations", "bundles")
    )
    print(
        f"imported {args.catalog} (version {catalog.header.version}) into {_safe(args.db)}: {counts}; revision {revision}"
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from catalog.load import dump_lines
    from catalog.store import Store

    store = Store(args.db)
    try:
        catalog = store.catalog()
    finally:
        store.dispose()
    if catalog is None:
        print(f"onething export: nothing has been published to {_safe(args.db)}", file=sys.stderr)
        return 1
    if args.out == "-":
        sys.stdout.buffer.writelines(dump_lines(catalog))
    else:
        with open(args.out, "wb") as out:
            out.writelines(dump_lines(catalog))
    return 0


def _safe(url: str) -> str:
    """The URL without a password, fit to print."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
