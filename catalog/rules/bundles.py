"""BUNDLE and the bundle's UNKNOWN_REF: a "one thing" joins at least two distinct, defined items."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from ..findings import Finding, finding
from ..model import Bundle, Catalog


def bundle_rules(
    bundle: Bundle, line: int | None, catalog: Catalog, broken_items: Collection[str] = ()
) -> list[Finding]:
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
    return out
