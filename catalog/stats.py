"""Figures leaders are measured by (网上可办, 掌上可办, 最多跑一次, 不见面, 即办), per region and
rolled up the tree, per level (五级), with the service points each region has, and how far
regions' handling of one item diverges (无差别受理).

One streamed pass over the implementations counts each region's own (`implementation_stats`),
so memory grows with the regions and the distinct material lists, never with the
implementations; the store keeps the same figures written at publish (`catalog.store.figures`)
and `region_stats` assembles a report from them, rolled up the tree the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, ItemsView, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from sys import intern
from typing import Protocol

import msgspec
from msgspec import Struct

from .codes import NATIONAL
from .model import LEVELS, Implementation, Item, Region, Requirement, ServicePoint, requirements_of
from .tree import lineage, subtree


class Counted(Protocol):
    """What the counts read of an implementation (the store counts lighter decodes of it)."""

    @property
    def online_depth(self) -> int: ...
    @property
    def visits(self) -> int: ...
    @property
    def promised_days(self) -> int: ...
    @property
    def statutory_days(self) -> int: ...
    @property
    def channels(self) -> Sequence[str] | None: ...


class Counts(Struct):
    """Fields in the order the figures' rows keep them (`Counts(*row)`)."""

    implementations: int = 0
    fully_online: int = 0
    """网上办理深度 4 (全程网办)."""
    at_most_one_visit: int = 0
    no_visit: int = 0
    at_once: int = 0
    """Promised 0 days (即办)."""
    promised_days: int = 0
    """Σ promised days."""
    statutory_days: int = 0
    """Σ statutory days."""
    mobile: int = 0
    """掌上可办: the mobile app among its channels (revision 3)."""

    def add(self, impl: Counted, by: int = 1) -> None:
        """Count `impl` in (`by` -1: out, as a publish closes it). Branches rather than
        products: a first publish's validation calls this once per line."""
        self.implementations += by
        if impl.online_depth == 4:
            self.fully_online += by
        visits = impl.visits
        if visits <= 1:
            self.at_most_one_visit += by
            if not visits:
                self.no_visit += by
        promised = impl.promised_days
        if not promised:
            self.at_once += by
        self.promised_days += by * promised
        self.statutory_days += by * impl.statutory_days
        channels = impl.channels
        if channels is not None and "app" in channels:
            self.mobile += by

    def merge(self, other: Counts) -> None:
        """Add `other` in. Written out: a national report merges once per region."""
        self.implementations += other.implementations
        self.fully_online += other.fully_online
        self.at_most_one_visit += other.at_most_one_visit
        self.no_visit += other.no_visit
        self.at_once += other.at_once
        self.promised_days += other.promised_days
        self.statutory_days += other.statutory_days
        self.mobile += other.mobile


class RegionStats(Struct, kw_only=True):
    region: str
    name: str
    level: str
    parent: str | None
    own: Counts
    """The region's own implementations."""
    total: Counts
    """The region's and those of every region under it."""
    service_points: int = 0
    """Service points standing in the region (revision 3)."""
    service_points_total: int = 0
    """In the region and every region under it."""


class LevelStats(Struct, kw_only=True):
    """One level (五级) over the regions asked: how many regions, their implementations' counts,
    their service points."""

    level: str
    regions: int
    own: Counts
    service_points: int


class ItemDivergence(Struct, kw_only=True):
    item: str
    name: str
    implementations: int
    material_lists: int
    """Distinct material lists its implementations keep (1: handled alike everywhere)."""


class ImplementationStats(Struct, kw_only=True):
    regions: list[RegionStats]
    items: list[ItemDivergence]
    levels: list[LevelStats] = []


def material_list(requirements: Iterable[Requirement]) -> tuple:
    """A requirement list in a form where two lists that ask the same compare equal."""
    return tuple(
        sorted(
            (
                r.req,
                tuple(sorted(r.any_of)),
                r.optional,
                r.deferrable,
                tuple(sorted((q, tuple(sorted(a))) for q, a in r.when.items())),
            )
            for r in requirements
        )
    )


def implementation_stats(
    regions: Mapping[str, Region],
    items: Mapping[str, Item],
    implementations: Iterable[Implementation],
    within: str | None = None,
    service_points: Mapping[str, ServicePoint] | None = None,
) -> ImplementationStats:
    """The counts of every region under `within` (all when None; the region itself included),
    in code order, with the `service_points` standing in each; the same per level (the levels
    present, national first); and each item's divergence over those regions' implementations
    (most divergent first). The full recount, from every implementation."""
    kept = set(regions) if within is None else set(subtree(regions, within))
    own = {code: Counts() for code in kept}
    lists: dict[str, set[tuple]] = {}
    counted: dict[str, int] = {}
    for impl in implementations:
        if impl.region not in kept:
            continue
        own[impl.region].add(impl)
        item = items.get(impl.item)
        if item is not None:
            lists.setdefault(impl.item, set()).add(material_list(requirements_of(impl, item)))
            counted[impl.item] = counted.get(impl.item, 0) + 1
    divergence = {code: (counted[code], len(found)) for code, found in lists.items()}
    return region_stats(regions, items, own, divergence, within, service_points)


def region_stats(
    regions: Mapping[str, Region],
    items: Mapping[str, Item],
    own: Mapping[str, Counts],
    divergence: Mapping[str, tuple[int, int]],
    within: str | None = None,
    service_points: Mapping[str, ServicePoint] | None = None,
) -> ImplementationStats:
    """The report from each region's `own` counts (a region missing has none) and, per item,
    (implementations, distinct material lists) over the regions under `within` (all when None):
    totals rolled up the tree, levels, service points, items most divergent first."""
    kept = set(regions) if within is None else set(subtree(regions, within))
    points = {code: 0 for code in kept}
    for point in (service_points or {}).values():
        if point.region in kept:
            points[point.region] += 1
    # Rolled up children first: each region's total is merged once into its parent's.
    total = {code: Counts() for code in kept}
    points_total = dict(points)
    depth = {level: i for i, level in enumerate(LEVELS)}
    for code in sorted(kept, key=lambda c: depth.get(regions[c].level, len(LEVELS)), reverse=True):
        counts = own.get(code)
        if counts is not None:
            total[code].merge(counts)
        parent = regions[code].parent
        if parent in kept and parent != code:
            total[parent].merge(total[code])
            points_total[parent] += points_total[code]
    out = [
        RegionStats(
            region=code,
            name=regions[code].name,
            level=regions[code].level,
            parent=regions[code].parent,
            own=own.get(code) or Counts(),
            total=total[code],
            service_points=points[code],
            service_points_total=points_total[code],
        )
        for code in sorted(kept)
    ]
    by_level: dict[str, LevelStats] = {}
    for row in out:
        level = by_level.setdefault(
            row.level, LevelStats(level=row.level, regions=0, own=Counts(), service_points=0)
        )
        level.regions += 1
        level.own.merge(row.own)
        level.service_points += row.service_points
    levels = [by_level[lv] for lv in LEVELS if lv in by_level]
    found = [
        ItemDivergence(item=code, name=items[code].name, implementations=n, material_lists=m)
        for code, (n, m) in divergence.items()
        if code in items and n
    ]
    found.sort(key=lambda d: (-d.material_lists, -d.implementations, d.item))
    return ImplementationStats(regions=out, items=found, levels=levels)


def rolled_divergence(
    regions: Mapping[str, Region], at: Collection[str], rows: Iterable[tuple[str, str, Hashable]]
) -> Divergence:
    """Items' divergence at each region of `at` (`''`: the whole catalog) from their
    implementations' (item, region, material list): (region, item) -> (implementations,
    distinct material lists) over the region and every region under it. An implementation of
    an unknown region counts nowhere, as in the recount.

    Held meanwhile: per region its chain up `at`, one tuple for the regions that share it (at
    five levels half a million villages, a few thousand chains)."""
    by_item: dict[str, tuple[dict[str, int], dict[str, Hashable | set[Hashable]]]] = {}
    chains: dict[str, tuple[str, ...]] = {}
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}
    whole = "" in at
    for item, region, key in rows:
        chain = chains.get(region)
        if chain is None:
            chain = tuple(c for c in lineage(regions, region) if c in at)
            if whole and region in regions:
                chain += ("",)
            chain = chains[region] = shared.setdefault(chain, chain)
        held = by_item.get(item)
        if held is None:
            held = by_item[item] = ({}, {})
        counted, lists = held
        for code in chain:
            found = lists.get(code, _NONE)
            if found is _NONE:
                lists[code] = key
                counted[code] = 1
                continue
            if isinstance(found, set):  # a key is hashable, so never a set
                found.add(key)
            elif found != key:
                lists[code] = {found, key}
            counted[code] += 1
    return Divergence(by_item)


class Divergence(Mapping[tuple[str, str], tuple[int, int]]):
    """What `rolled_divergence` counted, (region, item) -> (implementations, distinct material
    lists), read from its tables as asked: per item and region a count and the one list key
    seen there (a set once there are two: rare, and a set costs thirty references). At five
    levels every county has regions under it: millions of pairs, which a dict of tuples would
    hold at five times the cost."""

    def __init__(
        self, by_item: dict[str, tuple[dict[str, int], dict[str, Hashable | set[Hashable]]]]
    ) -> None:
        self._by_item = by_item

    def __getitem__(self, pair: tuple[str, str]) -> tuple[int, int]:
        code, item = pair
        held = self._by_item.get(item)
        if held is None:
            raise KeyError(pair)
        counted, lists = held
        return counted[code], _distinct(lists[code])

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for item, (counted, _) in self._by_item.items():
            for code in counted:
                yield code, item

    def __len__(self) -> int:
        return sum(len(counted) for counted, _ in self._by_item.values())

    def items(self) -> ItemsView[tuple[str, str], tuple[int, int]]:
        return _Pairs(self)

    def pairs(self) -> Iterator[tuple[tuple[str, str], tuple[int, int]]]:
        """As `items()` iterates: each table read once, no look-up per pair."""
        for item, (counted, lists) in self._by_item.items():
            for code, n in counted.items():
                yield (code, item), (n, _distinct(lists[code]))


class _Pairs(ItemsView[tuple[str, str], tuple[int, int]]):
    _mapping: Divergence

    def __iter__(self) -> Iterator[tuple[tuple[str, str], tuple[int, int]]]:
        return self._mapping.pairs()


def _distinct(found: Hashable | set[Hashable]) -> int:
    return len(found) if isinstance(found, set) else 1


_NONE = object()


ROLLED_LEVELS = frozenset({"national", "province", "city"})
"""The levels whose regions keep item figures (with `''`, the whole catalog): a county's subtree,
even at five levels, is read from its own implementations (a few thousand), while 3,000
counties' rows per item would be millions."""


def rolled_at(regions: Mapping[str, Region]) -> frozenset[str]:
    """Where item figures are kept: every region of `ROLLED_LEVELS` with regions under it, and `''`."""
    return frozenset(
        {
            r.parent
            for r in regions.values()
            if r.parent is not None and r.parent in regions and regions[r.parent].level in ROLLED_LEVELS
        }
        | {""}
    )


class Figured(Struct, array_like=True):
    """What a `Tally` counted: each region's own counts, and (region, item) -> (implementations,
    distinct material lists) at every region of `rolled_at`."""

    own: dict[str, Counts]
    rolled: dict[tuple[str, str], tuple[int, int]]


class Row(Counted, Protocol):
    """What a tally reads of an implementation line (a lean decode: materials as their JSON)."""

    @property
    def item(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def materials(self) -> msgspec.Raw: ...


_requirements = msgspec.json.Decoder(list[Requirement]).decode


class MaterialLists:
    """Implementations' material lists as the recount compares them (`material_list`, the
    item's own when an implementation has none), each distinct text decoded once; a list is
    named by a small int (two lists that ask the same have the same), cheap to hash."""

    def __init__(self, items: Mapping[str, Item]):
        self.items = items
        self._ids: dict[tuple, int] = {}
        self._texts: dict[bytes, int] = {}
        self._inherited: dict[str, int] = {}

    def _id(self, requirements: list[Requirement]) -> int:
        return self._ids.setdefault(material_list(requirements), len(self._ids))

    def of(self, item_code: str, materials: bytes) -> int | None:
        """The list of an implementation of `item_code` whose materials are that JSON (empty or
        `null`: none of its own); None when the item is not in the catalog (it counts nowhere)."""
        item = self.items.get(item_code)
        if item is None:
            return None
        if not materials or materials == b"null":
            found = self._inherited.get(item_code)
            if found is None:
                found = self._inherited[item_code] = self._id(item.materials)
            return found
        found = self._texts.get(materials)
        if found is None:
            found = self._texts[materials] = self._id(_requirements(materials))
        return found


def _keys(table: Mapping[str, object]) -> Callable[[str], str | None]:
    """A code as `table` holds it as a key (the same string object), None when it lacks it."""
    keys = {code: code for code in table}
    return keys.get


def _place(code: str) -> str:
    """The nearest region above the county a valid region code lies in (GB/T 2260: the code
    says it; a catalog where it does not has a REGION_PARENT error)."""
    county = code[:6]
    if county == NATIONAL or county.endswith("0000"):
        return county
    return county[:4] + "00"


FEW_LISTS = 8
"""Distinct material lists of an item at a place kept as a tuple; more as a set."""


class Tally:
    """The statistics' figures of a first publish, counted as its validation streams the lines
    (the lines are decoded there anyway; the publishing process only loads them). Per line:
    its region's own counts, and the line's material list text under its item at the nearest
    region above the county (`_place`); `figured` rolls those up the tree at the end. Memory
    grows with the regions and the items, never with the lines."""

    def __init__(self) -> None:
        self._own: dict[str, tuple[Counts, dict[str, list]]] = {}
        self._places: dict[str, dict[str, list]] = {}
        self._texts: dict[bytes, int] = {}

    def add(self, row: Row) -> None:
        slot = self._own.get(row.region)
        if slot is None:
            place = _place(row.region)
            items = self._places.get(place)
            if items is None:
                items = self._places[place] = {}
            slot = self._own[row.region] = (Counts(), items)
        counts, items = slot
        counts.add(row)
        raw = bytes(row.materials)
        text = self._texts.get(raw)
        if text is None:
            text = self._texts[raw] = len(self._texts)
        entry = items.get(row.item)
        if entry is None:
            # the item's code one string for all places (the line's own would be one per place)
            items[intern(row.item)] = [1, text]
        else:
            entry[0] += 1
            held: int | tuple[int, ...] | set[int] = entry[1]
            # a few distinct lists as a tuple (a set costs four times as much), more as a set
            if isinstance(held, int):
                if held != text:
                    entry[1] = (held, text)
            elif text not in held:
                if isinstance(held, tuple):
                    entry[1] = (*held, text) if len(held) < FEW_LISTS else {*held, text}
                else:
                    held.add(text)

    def mark(self) -> int:
        """Where `take` will start from: the regions counted so far."""
        return len(self._own)

    def take(self, mark: int, regions: Collection[str]) -> dict[str, Counts]:
        """The own counts of the regions first counted since `mark`, no longer held; those the
        catalog lacks (`regions`) count nowhere, as in `figured`."""
        taken = list(islice(self._own, mark, None))
        out: dict[str, Counts] = {}
        for region in taken:
            counts, _ = self._own.pop(region)
            if region in regions:
                out[region] = counts
        return out

    def figured(self, regions: Mapping[str, Region], items: Mapping[str, Item]) -> Figured:
        """The figures, once the tree and the items are known (once: `rolled_rows`). An
        implementation of a region or an item the catalog lacks counts nowhere, as in the
        recount. Keyed by the catalog's own code strings (pickled once, with the conformity's)."""
        rolled = {(region, item): (n, m) for region, item, n, m in self.rolled_rows(regions, items)}
        return Figured(own=self.own(regions), rolled=rolled)

    def own(self, regions: Mapping[str, Region]) -> dict[str, Counts]:
        """Each region's own counts, of the regions in the catalog."""
        region_key = _keys(regions)
        out: dict[str, Counts] = {}
        for region, (counts, _) in self._own.items():
            code = region_key(region)
            if code is not None:
                out[code] = counts
        return out

    def rolled_rows(
        self, regions: Mapping[str, Region], items: Mapping[str, Item]
    ) -> Iterator[tuple[str, str, int, int]]:
        """(region, item, implementations, distinct material lists) at every region of
        `rolled_at`, a region at a time: at five levels there are half a million such pairs,
        which a dict of them all would hold at once. Each place's distinct lists become bits of
        an int first, in place (so this runs once): a set each would cost more than the rest."""
        region_key, item_key = _keys(regions), _keys(items)
        texts = list(self._texts)
        lists = MaterialLists(items)
        bits: dict[str, dict[int, int]] = {}  # per item, each of its material lists' bit
        at = rolled_at(regions)
        under: dict[str, list[dict[str, list]]] = {}  # region of `at` -> the places' items under it
        for place, entries in self._places.items():
            if place not in regions:
                continue
            for item in list(entries):
                entry = entries[item]
                code_of_item = item_key(item)
                if code_of_item is None:  # an item the catalog lacks
                    del entries[item]
                    continue
                held = entry[1]
                found = 0
                own_bits = bits.setdefault(code_of_item, {})
                for t in (held,) if type(held) is int else held:
                    listed = lists.of(code_of_item, texts[t])
                    if listed is not None:
                        found |= 1 << own_bits.setdefault(listed, len(own_bits))
                entry[1] = found
            for code in [*(region_key(c) or c for c in lineage(regions, place) if c in at), ""]:
                under.setdefault(code, []).append(entries)
        for code, places in under.items():
            merged: dict[str, list[int]] = {}
            for entries in places:
                for item, (n, found) in entries.items():
                    slot = merged.get(item)
                    if slot is None:
                        merged[item] = [n, found]
                    else:
                        slot[0] += n
                        slot[1] |= found
            for item, (n, found) in merged.items():
                yield code, item_key(item) or item, n, found.bit_count()
