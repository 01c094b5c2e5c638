"""BUNDLE and the bundle's UNKNOWN_REF: a "one thing" joins at least two distinct, defined items,
is offered in defined regions, and sets conditions only on its own items, with defined questions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping

from ..findings import Finding, about
from ..model import Bundle, Catalog
from ..wording import named
from .situations import when_ref_findings

NO_BROKEN: Mapping[str, Collection[str]] = {}


def bundle_rules(
    bundle: Bundle, line: int | None, catalog: Catalog, broken: Mapping[str, Collection[str]] = NO_BROKEN
) -> list[Finding]:
    """`broken`: kind -> keys of records that failed to decode (referring to them is not UNKNOWN_REF)."""
    broken_items = broken.get("item", ())
    out: list[Finding] = []
    key = bundle.id
    say = about("bundle", key, line)
    if len(bundle.items) < 2:
        out.append(
            say(
                "BUNDLE",
                f"{named('bundle', key, bundle.name)}只列出 {len(bundle.items)} 个事项，一件事至少应包含 2 个事项。",
            )
        )
    twice = sorted(code for code, n in Counter(bundle.items).items() if n > 1)
    if twice:
        out.append(
            say(
                "BUNDLE",
                f"{named('bundle', key, bundle.name)}重复列出事项 {'、'.join(twice)}，每个事项只应列出一次。",
            )
        )
    for code in dict.fromkeys(bundle.items):
        if code not in catalog.items and code not in broken_items:
            out.append(
                say(
                    "UNKNOWN_REF",
                    f"{named('bundle', key, bundle.name)}：成员事项“{code}”未在目录中定义。",
                )
            )
    broken_regions = broken.get("region", ())
    for region in dict.fromkeys(bundle.regions or ()):
        if region not in catalog.regions and region not in broken_regions:
            out.append(
                say(
                    "UNKNOWN_REF",
                    f"{named('bundle', key, bundle.name)}：区划“{region}”未在目录中定义。",
                )
            )
    members = set(bundle.items)
    for code, when in bundle.when.items():
        if code not in members:
            out.append(
                say(
                    "BUNDLE",
                    f"{named('bundle', key, bundle.name)}为事项 {code} 设置了适用情形，但该事项不在这件事中。",
                )
            )
        who = f"{named('bundle', key, bundle.name)}对事项 {code} 的适用情形"
        out.extend(
            when_ref_findings("bundle", key, line, who, when, catalog.questions, broken.get("question", ()))
        )
    return out
