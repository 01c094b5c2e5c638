"""BUNDLE and the bundle's UNKNOWN_REF: a "one thing" joins at least two distinct, defined items,
is offered in defined regions, and sets conditions only on its own items, with defined questions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping

from ..findings import Finding, finding
from ..model import Bundle, Catalog
from .situations import when_ref_findings

NO_BROKEN: Mapping[str, Collection[str]] = {}


def bundle_rules(
    bundle: Bundle, line: int | None, catalog: Catalog, broken: Mapping[str, Collection[str]] = NO_BROKEN
) -> list[Finding]:
    """`broken`: kind -> keys of records that failed to decode (referring to them is not UNKNOWN_REF)."""
    broken_items = broken.get("item", ())
    out: list[Finding] = []
    key = bundle.id
    if len(bundle.items) < 2:
        out.append(
            finding(
                "BUNDLE",
                "bundle",
                key,
                line,
                f"bundle {key} ({bundle.name}) lists {len(bundle.items)} item(s); a one-thing bundle joins at least 2",
            )
        )
    twice = sorted(code for code, n in Counter(bundle.items).items() if n > 1)
    if twice:
        out.append(
            finding(
                "BUNDLE",
                "bundle",
                key,
                line,
                f"bundle {key} ({bundle.name}) lists {', '.join(twice)} more than once; each item belongs once",
            )
        )
    for code in dict.fromkeys(bundle.items):
        if code not in catalog.items and code not in broken_items:
            out.append(
                finding(
                    "UNKNOWN_REF",
                    "bundle",
                    key,
                    line,
                    f"bundle {key} ({bundle.name}): member item {code!r} is not defined",
                )
            )
    broken_regions = broken.get("region", ())
    for region in dict.fromkeys(bundle.regions or ()):
        if region not in catalog.regions and region not in broken_regions:
            out.append(
                finding(
                    "UNKNOWN_REF",
                    "bundle",
                    key,
                    line,
                    f"bundle {key} ({bundle.name}): region {region!r} is not defined",
                )
            )
    members = set(bundle.items)
    for code, when in bundle.when.items():
        if code not in members:
            out.append(
                finding(
                    "BUNDLE",
                    "bundle",
                    key,
                    line,
                    f"bundle {key} ({bundle.name}) sets a condition on {code}, which is not one of its items",
                )
            )
        who = f"bundle {key} ({bundle.name}) condition on {code}"
        out.extend(
            when_ref_findings("bundle", key, line, who, when, catalog.questions, broken.get("question", ()))
        )
    return out
