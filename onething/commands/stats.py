"""`onething stats` and `onething advise`. Stats: the figures of a published version, per region and rolled up the tree —
网上可办 (depth 4), 最多跑一次, 不见面, 即办, promised against statutory days, how many material
lists regions keep for one item, and each bundle's coverage and §4.1 check pass rates.
Advise: for each material not yet an e-license or commitment, what digitising it would save
(`bundler.advisor`)."""

from __future__ import annotations

import argparse
import sys
import unicodedata

import msgspec

from .progress import counter
from .store import DEFAULT_DB, _safe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="figures per region (online, visits, days), divergence, bundle checks")
    p.add_argument("--db", default=DEFAULT_DB, help=f"SQLAlchemy URL (default {DEFAULT_DB})")
    p.add_argument("--version", type=int, default=None, help="the version (default: the newest)")
    p.add_argument("--region", help="this region and those under it (default: all)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run_stats)
    register_advise(sub)


def open_version(args: argparse.Namespace, command: str):
    """(store, version, its small records with the stored bundles), or None after saying why."""
    from catalog.store import Store

    store = Store(args.db)
    newest = store.revision()
    version = newest if args.version is None else args.version
    if newest == 0 or not 1 <= version <= newest:
        what = "nothing has been published" if newest == 0 else f"there is no version {version}"
        print(f"onething {command}: {what} in {_safe(args.db)}", file=sys.stderr)
        store.dispose()
        return None
    catalog = store.dictionaries(version)
    catalog.bundles = {b.bundle.id: b.bundle for b in store.bundles()}
    return store, version, catalog


def run_stats(args: argparse.Namespace) -> int:
    from api.view import slice_of
    from bundler.stats import bundle_rows, stats, with_bundles
    from catalog.tree import subtree

    opened = open_version(args, "stats")
    if opened is None:
        return 1
    store, version, catalog = opened
    try:
        if args.region is not None and args.region not in catalog.regions:
            print(f"onething stats: no region {args.region} in version {version}", file=sys.stderr)
            return 2
        rows = {}
        with counter("checking bundles", "bundles") as progress:
            for n, bundle_id in enumerate(sorted(catalog.bundles), 1):
                bundle = catalog.bundles[bundle_id]
                rows[bundle_id] = bundle_rows(slice_of(store, catalog, version, bundle.items, None), bundle)
                if progress:
                    progress(n, len(catalog.bundles))
        figures = store.figures(version, catalog, args.region)  # written at publish
        if figures is not None:
            report = with_bundles(catalog, figures, rows, revision=version, region=args.region)
        else:  # a version published before figures were kept
            with counter("reading implementations", "implementations") as progress:
                within = None if args.region is None else subtree(catalog.regions, args.region)
                impls = store.implementations_within(version, within)
                report = stats(catalog, _told(impls, progress), rows, revision=version, region=args.region)
    finally:
        store.dispose()
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode(report) + b"\n")
        return 0
    print_stats(report)
    return 0


def _told(items, progress):
    n = 0
    for n, item in enumerate(items, 1):
        if progress is not None and n % 5000 == 0:
            progress(n)
        yield item
    if progress is not None:
        progress(n)


def _cell(text: str, width: int) -> str:
    """`text` cut and padded to `width` terminal columns (a Chinese character takes two)."""
    out, used = [], 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out) + " " * (width - used)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    –"


def print_stats(report) -> None:
    print(f"version {report.revision} ({report.catalog_version}), region {report.region or 'all'}")
    print(
        f"{'region':<8} {'name':<16} {'impls':>7} {'online':>7} {'≤1 visit':>8} {'no visit':>8} "
        f"{'at once':>7} {'days':>11}"
    )
    for r in report.regions:
        t = r.total
        days = (
            f"{t.promised_days / t.implementations:.1f}/{t.statutory_days / t.implementations:.1f}"
            if (t.implementations)
            else "–"
        )
        print(
            f"{r.region:<8} {_cell(r.name, 16)} {t.implementations:>7,} {_pct(t.fully_online, t.implementations):>7} "
            f"{_pct(t.at_most_one_visit, t.implementations):>8} {_pct(t.no_visit, t.implementations):>8} "
            f"{_pct(t.at_once, t.implementations):>7} {days:>11}"
        )
    diverging = [i for i in report.items if i.material_lists > 1]
    print(f"\nitems whose regions keep more than one material list: {len(diverging)} of {len(report.items)}")
    for i in diverging[:10]:
        print(f"  {i.item} {i.name}: {i.material_lists} lists over {i.implementations} implementations")
    print("\nbundles: offered / composed / all checks pass")
    for b in report.bundles:
        print(f"  {b.bundle:<24} {b.offered:>5} {b.composed:>5} {b.passing:>5}  {b.name}")
    print("\n§4.1 checks passed (bundle × region cases that compose)")
    for c in report.checks:
        print(f"  {c.check:<12} {c.passed:>6} / {c.of:<6} {_pct(c.passed, c.of)}")


def register_advise(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "advise",
        help="which material to digitise next: materials and visits saved across bundles and regions",
    )
    p.add_argument("--db", default=DEFAULT_DB, help=f"SQLAlchemy URL (default {DEFAULT_DB})")
    p.add_argument("--version", type=int, default=None, help="the version (default: the newest)")
    p.add_argument("--top", type=int, default=20, help="how many suggestions to print (default 20)")
    p.add_argument("--json", action="store_true", help="print every suggestion as JSON")
    p.set_defaults(run=run_advise)


def run_advise(args: argparse.Namespace) -> int:
    from api.view import slice_of
    from bundler.advisor import advise

    opened = open_version(args, "advise")
    if opened is None:
        return 1
    store, version, catalog = opened
    try:
        with counter("composing bundles", "bundles") as progress:
            advice = advise(
                catalog,
                lambda bundle: slice_of(store, catalog, version, bundle.items, None),
                progress=progress,
            )
    finally:
        store.dispose()
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode(advice) + b"\n")
        return 0
    print(
        f"version {version}: {advice.cases:,} bundle × region cases ({advice.distinct:,} distinct), "
        "if one more material were an e-license:"
    )
    print(f"{'':>3} {'material':<34} {'materials':>9} {'visits':>6} {'cases':>6}  bundles")
    for n, s in enumerate(advice.suggestions[: args.top], 1):
        print(
            f"{n:>3} {_cell(s.name, 20)} {s.material[:13]:<13} {s.materials:>9,} {s.visits:>6,} {s.cases:>6,}"
            f"  {', '.join(s.bundles)}"
        )
    return 0
