"""`onething validate CATALOG.jsonl [--json]` (§5): exit 0 clean, 1 with an error finding, 2 when unreadable."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from catalog.findings import Report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a catalog against every rule of the format (四级四同 and the rest)",
        description="Report every finding of a catalog file; exit 0 with no error, 1 with one, 2 when it cannot be read.",
    )
    parser.add_argument("catalog", metavar="CATALOG.jsonl", help="the catalog file (JSON Lines)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import msgspec

    from catalog.validate import validate_file

    progress = None
    if not args.json and sys.stderr.isatty():

        def progress(line: int) -> None:
            print(f"\r  validated {line:,} lines…", end="", file=sys.stderr, flush=True)

    try:
        report = validate_file(args.catalog, progress=progress)
    except OSError as exc:
        print(f"onething validate: cannot read {args.catalog}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        if progress is not None:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode(report) + b"\n")
        sys.stdout.flush()
    else:
        print_report(report, sys.stdout)
    return 0 if report.ok else 1


def print_report(report: Report, out: TextIO) -> None:
    """The report for a person: findings grouped by rule in the order of the spec's table,
    each `  line N  kind key — message`, then conformity by region, then the totals."""
    out.write(format_report(report))


def format_report(report: Report) -> str:
    from catalog.findings import RULES

    out: list[str] = []
    by_rule: dict[str, list] = {}
    for f in report.findings:
        by_rule.setdefault(f.rule, []).append(f)
    for rule in RULES:
        found = by_rule.get(rule)
        if not found:
            continue
        out.append(f"{rule} ({RULES[rule]}, {len(found)})")
        for f in found:
            where = f"line {f.line}" if f.line is not None else "no line"
            name = f"{f.kind} {f.key}" if f.key is not None else f.kind
            out.append(f"  {where}  {name} — {f.message}")
        out.append("")
    if report.conformity:
        out.append("四同 conformity by region")
        out.append(f"  {'region':<8} {'implementations':>15} {'conforming':>10} {'rate':>7}")
        total = conforming = 0
        for c in report.conformity:
            out.append(
                f"  {c.region:<8} {c.implementations:>15} {c.conforming:>10} {_rate(c.conforming, c.implementations):>7}"
            )
            total += c.implementations
            conforming += c.conforming
        out.append(f"  {'all':<8} {total:>15} {conforming:>10} {_rate(conforming, total):>7}")
        out.append("")
    out.append(f"{report.summary.errors} errors, {report.summary.warnings} warnings")
    return "\n".join(out) + "\n"


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"
