"""`onething publish` (alias `import`), `onething export` and `onething versions`: a catalog
in and out of a versioned store (spec §6)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import msgspec

from onething.commands.progress import Report, counter
from onething.commands.shared import cli_user

DEFAULT_DB = "sqlite:///onething.db"
DIFF_PAGE = 10_000
"""Records of a diff read at a time."""


def register(sub: argparse._SubParsersAction) -> None:
    for name in ("publish", "import"):
        p = sub.add_parser(
            name,
            help="validate a catalog file and publish it as the next version"
            + (" (alias of publish)" if name == "import" else ""),
            description="Validate FILE over the catalog it would publish; publish it as the next version "
            "(only what changed is written) unless it has an error finding: then exit 1 with the findings, "
            "the store unchanged. Exit 2 when the file cannot be read.",
        )
        p.add_argument(
            "catalog",
            metavar="FILE",
            nargs="?",
            help="the catalog file (whole, or a region's), or a region's sheet (.xlsx or .csv, as "
            "`export --format xlsx|csv` writes it)",
        )
        p.add_argument("--db", default=DEFAULT_DB, help=f"SQLAlchemy URL (default {DEFAULT_DB})")
        p.add_argument(
            "--region",
            help="FILE is this region's submission: the header and the implementations of the region "
            "and the regions under it, which it replaces (a .xlsx sheet says its region itself)",
        )
        p.add_argument("--version", type=int, help="instead of FILE: publish version N's content again")
        p.add_argument("--note", default="", help="why this version (kept with it)")
        p.add_argument(
            "--take-bundles",
            action="store_true",
            help="take the file's bundle records even over bundles designers edited or deleted through the "
            "API since a file last wrote them (without it those are kept as they are, with a warning each)",
        )
        p.add_argument("--json", action="store_true", help="print the §6 JSON result")
        p.set_defaults(run=run_publish)

    p = sub.add_parser(
        "export",
        help="write a published version as JSONL or CPSV-AP 3.2.0, streamed, or a region's sheet",
        description="A published version as JSONL (this catalog format), CPSV-AP 3.2.0 (JSON-LD or "
        "Turtle), or one region's implementation list as a sheet to fill in (--format xlsx|csv "
        "--region CODE): a row per implementation of the region and those under it, and a template "
        "row per item the region could implement; `publish SHEET` takes it back.",
    )
    p.add_argument("--db", default=DEFAULT_DB, help=f"SQLAlchemy URL (default {DEFAULT_DB})")
    p.add_argument("--version", type=int, default=None, help="the version (default: the newest)")
    p.add_argument(
        "--format",
        choices=("jsonl", "cpsv-ap", "turtle", "xlsx", "csv"),
        default="jsonl",
        help="jsonl (this catalog format, the default), cpsv-ap (CPSV-AP 3.2.0 JSON-LD), turtle, "
        "xlsx or csv (a region's implementation list as a sheet; needs --region)",
    )
    p.add_argument("--region", help="with --format xlsx|csv: the region whose sheet to write")
    p.add_argument(
        "-o", "--out", default="-", help="file to write (default: standard output; xlsx needs a file)"
    )
    p.set_defaults(run=run_export)

    p = sub.add_parser("diff", help="what changed between two versions")
    p.add_argument("a", type=int, metavar="A")
    p.add_argument("b", type=int, metavar="B")
    p.add_argument("--db", default=DEFAULT_DB, help=f"SQLAlchemy URL (default {DEFAULT_DB})")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_diff)

    p = sub.add_parser("review", help="the records of the newest version that need review, with their cause")
    p.add_argument("--db", default=DEFAULT_DB, help=f"SQLAlchemy URL (default {DEFAULT_DB})")
    p.add_argument("--region", help="only the records of this region and the regions under it")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_review)

    p = sub.add_parser("versions", help="list the published versions, oldest first")
    p.add_argument("--db", default=DEFAULT_DB, help=f"SQLAlchemy URL (default {DEFAULT_DB})")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_versions)


def run_publish(args: argparse.Namespace) -> int:
    from catalog.store import Refused, Store
    from onething.commands.validate import print_report

    if (args.catalog is None) == (args.version is None):
        print(f"onething {args.command}: give FILE or --version N (one of them)", file=sys.stderr)
        return 2
    if args.version is not None and args.region is not None:
        print(f"onething {args.command}: --region goes with FILE, not with --version", file=sys.stderr)
        return 2
    from catalog.sheet import format_of

    sheet = None if args.catalog is None else format_of(args.catalog)
    store = Store(args.db)
    try:
        if args.version is not None:
            published = store.republish(args.version, by=cli_user(), note=args.note)
        elif sheet is not None:
            with counter("reading and validating", "lines") as progress:
                published, _ = store.publish_sheet(
                    args.catalog,
                    sheet,
                    by=cli_user(),
                    note=args.note,
                    region=args.region,
                    progress=progress,
                )
        else:
            with counter("reading and validating", "lines") as progress:
                published = store.publish_file(
                    args.catalog,
                    by=cli_user(),
                    note=args.note,
                    region=args.region,
                    progress=progress,
                    take_bundles=args.take_bundles,
                )
    except KeyError:
        print(
            f"onething {args.command}: there is no version {args.version} in {_safe(args.db)}",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:
        print(f"onething {args.command}: cannot read {args.catalog}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Refused as exc:
        if args.json:
            sys.stdout.buffer.write(msgspec.json.encode({"findings": exc.findings}) + b"\n")
        elif sheet is not None:
            print_sheet_findings(exc.findings, sys.stdout)
        else:
            from catalog.findings import Report, Summary

            print_report(Report(exc.findings, [], Summary(len(exc.findings), 0)), sys.stdout)
        print(
            f"onething {args.command}: {args.catalog or f'version {args.version}'} was not published; "
            "the store is unchanged.",
            file=sys.stderr,
        )
        return 1
    finally:
        store.dispose()
    result: dict[str, Any] = {
        "version": published.version,
        "added": published.added,
        "changed": published.changed,
        "removed": published.removed,
        "needs_review": published.needs_review,
    }
    if published.kept:  # designers' edits kept over the file's records: one warning each
        result["kept_bundles"] = [{"id": k.id, "message": k.message} for k in published.kept]
        for kept in published.kept:
            print(f"onething {args.command}: 注意：{kept.message}", file=sys.stderr)
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode(result) + b"\n")
    else:
        print(
            f"published {args.catalog} into {_safe(args.db)} as version {published.version}: "
            f"{published.added:,} added, {published.changed:,} changed, {published.removed:,} removed"
        )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from catalog.store import Store

    sheet = args.format in ("xlsx", "csv")
    if sheet and args.region is None:
        print(
            f"onething export: --format {args.format} writes one region's sheet: give --region CODE",
            file=sys.stderr,
        )
        return 2
    if not sheet and args.region is not None:
        print("onething export: --region goes with --format xlsx or csv", file=sys.stderr)
        return 2
    if args.format == "xlsx" and args.out == "-":
        print(
            "onething export: an .xlsx workbook is written to a file: give --out FILE.xlsx", file=sys.stderr
        )
        return 2
    store = Store(args.db)
    try:
        newest = store.revision()
        version = newest if args.version is None else args.version
        if newest == 0 or not 1 <= version <= newest:
            what = "nothing has been published" if newest == 0 else f"there is no version {version}"
            print(f"onething export: {what} in {_safe(args.db)}", file=sys.stderr)
            return 1
        if sheet:
            return _export_sheet(store, args, version)
        out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")  # noqa: SIM115 - closed in the finally below
        try:
            with counter("exporting", "records") as progress:
                if args.format == "jsonl":
                    out.writelines(_counted(store.export(version), progress))
                else:
                    from catalog.cpsv import export

                    out.writelines(export(store.export(version), args.format, progress))
        finally:
            if out is not sys.stdout.buffer:
                out.close()
    finally:
        store.dispose()
    return 0


def _export_sheet(store: Any, args: argparse.Namespace, version: int) -> int:
    """A region's sheet of `version` (the rows streamed from the store through a temporary file)."""
    from catalog.sheet import TooManyRows
    out = sys.stdout.buffer if args.out == "-" else args.out
    try:
        with counter("exporting", "rows") as progress:
            rows = store.export_sheet(out, args.format, args.region, version, progress=progress)
    except KeyError:
        print(f"onething export: there is no region {args.region} in version {version}", file=sys.stderr)
        return 2
    except TooManyRows as exc:
        print(f"onething export: region {args.region}: {exc}", file=sys.stderr)
        return 2
    if out is not sys.stdout.buffer:
        print(
            f"wrote {rows:,} rows of region {args.region} (version {version}) to {args.out}", file=sys.stderr
        )
    return 0


def print_sheet_findings(findings: list[Any], out: TextIO) -> None:
    """A sheet's findings for a clerk: where (worksheet!cell, column label), the rule, what is wrong."""
    for f in findings:
        sheet = getattr(f, "sheet", None)
        row = getattr(f, "row", None)
        column = getattr(f, "column", None) or ""
        label = getattr(f, "label", None)
        where = f"{sheet}!" if sheet else ""
        where += f"{column}{row}" if row is not None else (column or "—")
        if label:
            where += f"（{label}）"
        print(f"  {where}  {f.rule}  {f.message}", file=out)
    print(f"{len(findings)} 个问题，未发布，目录没有改变。", file=out)


def _counted(lines: Iterator[bytes], progress: Report | None) -> Iterator[bytes]:
    """The lines, telling the terminal how many went by."""
    if progress is None:
        yield from lines
        return
    n = 0
    for line in lines:
        yield line
        n += 1
        if not n & 0xFFF:
            progress(n)
    progress(n)


def run_diff(args: argparse.Namespace) -> int:
    from catalog.store import Store
    from catalog.store.reads import CHANGES

    store = Store(args.db)
    try:
        newest = store.revision()
        for v in (args.a, args.b):
            if not 1 <= v <= newest:
                print(f"onething diff: there is no version {v} in {_safe(args.db)}", file=sys.stderr)
                return 2
        counts = store.diff_counts(args.a, args.b)

        def records(kind: str, change: str, limit: int | None = None) -> Iterator[tuple[str, object]]:
            """A kind's added, removed or changed records, read a page at a time."""
            total = counts[kind][change] if limit is None else min(limit, counts[kind][change])
            for offset in range(0, total, DIFF_PAGE):
                yield from store.diff_segment(
                    args.a, args.b, kind, change, offset, min(DIFF_PAGE, total - offset)
                )

        if args.json:  # §6's object, streamed: a diff of millions of records is never held at once
            encode = msgspec.json.encode
            out = sys.stdout.buffer
            out.write(b'{"from":%d,"to":%d' % (args.a, args.b))
            for change in CHANGES:
                out.write(b',"%s":{' % change.encode())
                kinds = [k for k in counts if counts[k][change]]
                for i, kind in enumerate(kinds):
                    out.write((b"," if i else b"") + encode(kind) + (b":{" if change == "changed" else b":["))
                    for j, (key, fields) in enumerate(records(kind, change)):
                        item = encode(key) + (b":" + encode(fields) if change == "changed" else b"")
                        out.write((b"," if j else b"") + item)
                    out.write(b"}" if change == "changed" else b"]")
                out.write(b"}")
            out.write(b"}\n")
            return 0
        print(f"version {args.a} → {args.b}")
        for change in ("added", "removed"):
            for kind, n in ((k, c[change]) for k, c in counts.items() if c[change]):
                keys = [key for key, _ in records(kind, change, 5)]
                print(f"  {change} {kind}: {n:,} ({', '.join(keys)}{' …' if n > 5 else ''})")
        for kind, n in ((k, c["changed"]) for k, c in counts.items() if c["changed"]):
            print(f"  changed {kind}: {n:,}")
            for key, fields in records(kind, "changed", 20):
                assert isinstance(fields, dict)
                print(
                    f"    {key}: "
                    + "; ".join(f"{name} {old!r} → {new!r}" for name, (old, new) in fields.items())
                )
    finally:
        store.dispose()
    return 0


def run_review(args: argparse.Namespace) -> int:
    from catalog.store import Store

    store = Store(args.db)
    try:
        version, flags = store.review(region=args.region)
    finally:
        store.dispose()
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode({"version": version, "needs_review": flags}) + b"\n")
        return 0
    print(f"version {version}: {len(flags):,} record(s) need review")
    for flag in flags:
        cause = flag.cause
        why = ""
        if "changed" in cause:
            what = next((k for k in ("item", "region") if k in cause), "")
            why = f" — {what} {cause.get(what)} changed: " + ", ".join(cause["changed"])
        print(f"  {flag.kind} {flag.key} ({flag.region or '-'}){why}")
        for f in flag.findings:
            print(f"    {f.rule}: {f.message}")
    return 0


def run_versions(args: argparse.Namespace) -> int:
    from catalog.store import Store

    store = Store(args.db)
    try:
        versions = store.versions()
    finally:
        store.dispose()
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode({"versions": versions}) + b"\n")
        return 0
    for v in versions:
        where = f" region {v.region}" if v.region else ""
        note = f" — {v.note}" if v.note else ""
        print(
            f"{v.version:>5}  {v.published_at}  {v.by}{where}: "
            f"+{v.added:,} ~{v.changed:,} -{v.removed:,}{note}"
        )
    return 0



def _safe(url: str) -> str:
    """The URL without a password, fit to print."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
