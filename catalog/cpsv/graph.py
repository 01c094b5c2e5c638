"""Catalog records → CPSV-AP 3.2.0 nodes, in the standard's own terms.

| onething | CPSV-AP 3.2.0 |
|---|---|
| item | `cpsv:PublicService` (the 四同 reference), its `basis` as `eli:LegalResource`, its owner's government as `m8g:PublicOrganisation` |
| implementation | `cpsv:PublicService` in its region (`dct:spatial`), `m8g:relatedService` its item, the agency as `m8g:hasCompetentAuthority` (`m8g:PublicOrganisation`, the USCC as `dct:identifier`, the window's `locn:Address`) |
| requirement | `m8g:Requirement` met by `m8g:hasSupportingEvidence` materials (`m8g:Evidence`) |
| output | `m8g:Output` (`cpsv:produces`) |
| fee | `m8g:Cost` in CNY |
| window, online handling | `m8g:Channel` (opening hours as `time:TemporalEntity`), phone and hours as `m8g:ContactPoint` |
| precedence (§4: `requires` and output → material links) | `dct:requires` — the 3.2.0 context's `PublicService.requires` |
| bundle | `m8g:LifeEvent` or `m8g:BusinessEvent` (also `m8g:Event`), `m8g:hasRelatedService` its items and `m8g:isGroupedBy` back |
| region | `dct:Location` |
| service point (revision 3) | `m8g:Channel` of type window in its region (`dct:spatial`), its `locn:Address`, opening hours, `m8g:ContactPoint`, and `locn:geometry` (WKT, WGS-84) from `location` |
| implementation `channels` (revision 3) | one `m8g:Channel` per stated channel beyond window and online (app, kiosk, post) |

`nodes(records)` streams: the small records (regions, materials, items…) are kept as they come
(the store's export sends them first); each implementation and bundle becomes its nodes at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import NamedTuple
from urllib.parse import quote

from ..model import (
    ITEM_TYPES,
    Bundle,
    Header,
    Implementation,
    Item,
    Material,
    Region,
    Requirement,
    ServicePoint,
    requirements_of,
)
from ..words import level_name

CPSV = "http://purl.org/vocab/cpsv#"
M8G = "http://data.europa.eu/m8g/"
DCT = "http://purl.org/dc/terms/"
ELI = "http://data.europa.eu/eli/ontology#"
LOCN = "http://www.w3.org/ns/locn#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
TIME = "http://www.w3.org/2006/time#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

BASE = "urn:onething:"
CNY = "http://publications.europa.eu/resource/authority/currency/CNY"
LANG = "zh"

CATEGORY_NAMES = {
    "identity": "身份证件",
    "license": "证照",
    "certificate": "证明",
    "form": "申请表",
    "photo": "照片",
    "contract": "合同协议",
    "other": "其他材料",
}
DEPTH_NAMES = {1: "办事指南网上公开", 2: "表格网上下载", 3: "网上预审", 4: "全程网办"}
CHANNELS = {
    "window": "线下窗口",
    "online": "网上办理",
    "app": "掌上办理",
    "kiosk": "自助终端",
    "post": "邮寄办理",
}
GEO = "http://www.opengis.net/ont/geosparql#"


class Lit(NamedTuple):
    """A literal: Chinese text by default; `datatype` for a typed one, plain with neither."""

    value: str
    lang: str | None = LANG
    datatype: str | None = None


Obj = str | Lit
"""An object: an IRI (str) or a literal."""


class Node(NamedTuple):
    id: str
    types: tuple[str, ...]
    props: list[tuple[str, Obj]]
    scope: str = ""
    """For a node that only adds properties to one typed elsewhere: the class it belongs to."""


def iri(kind: str, *keys: str) -> str:
    return BASE + kind + "".join(":" + quote(k, safe="-._~") for k in keys)


def plain(value: str) -> Lit:
    return Lit(value, None)


def item_iri(code: str) -> str:
    return iri("item", code)


def _basis_iri(text: str) -> str:
    return iri("legal-resource", hashlib.sha1(text.strip().encode()).hexdigest()[:20])


def _requirement_iri(owner: str, code: str, req: str) -> str:
    return iri(owner, code, "requirement", req)


class Exporter:
    """The state of one streamed export: the small records, and which shared nodes are out."""

    def __init__(self) -> None:
        self.header: Header | None = None
        self.regions: dict[str, Region] = {}
        self.materials: dict[str, Material] = {}
        self.items: dict[str, Item] = {}
        self.bundles_of: dict[str, list[str]] = {}
        self.started = False
        self.seen_bases: set[str] = set()
        self.seen_orgs: set[str] = set()

    def nodes(self, records: Iterable[object]) -> Iterator[Node]:
        for record in records:
            if isinstance(record, ServicePoint):  # revision 3: a place, wherever it comes
                if not self.started:
                    yield from self._small()
                yield from _service_point(record)
            elif isinstance(record, Implementation | Bundle):
                if not self.started:
                    yield from self._small()
                if isinstance(record, Implementation):
                    yield from self._implementation(record)
                else:
                    yield from self._bundle(record)
            elif self.started:
                raise ValueError("the small records must come before implementations and bundles")
            elif isinstance(record, Header):
                self.header = record
            elif isinstance(record, Region):
                self.regions[record.code] = record
            elif isinstance(record, Material):
                self.materials[record.id] = record
            elif isinstance(record, Item):
                self.items[record.code] = record
        if not self.started:
            yield from self._small()

    # -- the dictionaries ------------------------------------------------------------------
    def _small(self) -> Iterator[Node]:
        self.started = True
        yield Node(CNY, (SKOS + "Concept",), [(SKOS + "prefLabel", Lit("人民币"))])
        for code, name in ITEM_TYPES.items():
            yield _concept(iri("item-type", code), code, name)
        for code, name in CATEGORY_NAMES.items():
            yield _concept(iri("material-category", code), code, name)
        for code, name in CHANNELS.items():
            yield _concept(iri("channel-type", code), code, name)
        for region in self.regions.values():
            props: list[tuple[str, Obj]] = [
                (DCT + "identifier", plain(region.code)),
                (SKOS + "prefLabel", Lit(region.name)),
            ]
            if region.parent is not None:
                props.append((DCT + "isPartOf", iri("region", region.parent)))
            yield Node(iri("region", region.code), (DCT + "Location",), props)
        for material in self.materials.values():
            yield _evidence(material)
        outputs = sorted({m for item in self.items.values() for m in item.outputs})
        for m in outputs:
            name = self.materials[m].name if m in self.materials else m
            yield Node(
                iri("output", m),
                (M8G + "Output",),
                [(DCT + "identifier", plain(m)), (DCT + "title", Lit(name))],
            )
        producers: dict[str, list[str]] = {}
        for item in self.items.values():
            for m in item.outputs:
                producers.setdefault(m, []).append(item.code)
        for item in self.items.values():
            yield from self._item(item, producers)

    def _item(self, item: Item, producers: dict[str, list[str]]) -> Iterator[Node]:
        me = item_iri(item.code)
        authority = iri("authority", item.owner)
        if authority not in self.seen_orgs:
            self.seen_orgs.add(authority)
            owner = self.regions.get(item.owner)
            name = "国务院" if item.owner == "000000" else f"{owner.name if owner else item.owner}人民政府"
            yield Node(
                authority,
                (M8G + "PublicOrganisation",),
                [(SKOS + "prefLabel", Lit(name)), (DCT + "spatial", iri("region", item.owner))],
            )
        yield from self._bases(item.basis)
        levels = "、".join(level_name(lv) for lv in item.levels)
        description = (
            f"{ITEM_TYPES[item.type]}；实施层级：{levels}；法定办结时限 {item.statutory_days} 个工作日"
        )
        props: list[tuple[str, Obj]] = [
            (DCT + "identifier", plain(item.code)),
            (DCT + "title", Lit(item.name)),
            (DCT + "description", Lit(description)),
            (DCT + "type", iri("item-type", item.type)),
            (M8G + "hasCompetentAuthority", authority),
            (DCT + "spatial", iri("region", item.owner)),
        ]
        props += [(M8G + "hasLegalResource", _basis_iri(b)) for b in item.basis]
        props += [(CPSV + "produces", iri("output", m)) for m in item.outputs]
        before = set(item.requires)
        for requirement in item.materials:
            for m in requirement.any_of:
                before.update(producers.get(m, ()))
        before.discard(item.code)
        props += [(DCT + "requires", item_iri(c)) for c in sorted(before)]
        if item.main is not None:
            props.append((M8G + "relatedService", item_iri(item.main)))
        requirements = [_requirement(self.materials, "item", item.code, r) for r in item.materials]
        props += [(M8G + "holdsRequirement", r.id) for r in requirements]
        yield Node(me, (CPSV + "PublicService",), props)
        yield from requirements

    def _bases(self, basis: list[str]) -> Iterator[Node]:
        for text in basis:
            node = _basis_iri(text)
            if node not in self.seen_bases:
                self.seen_bases.add(node)
                yield Node(node, (ELI + "LegalResource",), [(DCT + "title", Lit(text.strip()))])

    # -- the streamed records ---------------------------------------------------------------
    def _implementation(self, impl: Implementation) -> Iterator[Node]:
        me = iri("implementation", impl.code)
        region = iri("region", impl.region)
        org = iri("organisation", impl.agency.uscc)
        org_props: list[tuple[str, Obj]] = [
            (DCT + "identifier", plain(impl.agency.uscc)),
            (SKOS + "prefLabel", Lit(impl.agency.name)),
            (DCT + "spatial", region),
        ]
        if impl.address:
            address = iri("implementation", impl.code, "address")
            yield Node(address, (LOCN + "Address",), [(LOCN + "fullAddress", Lit(impl.address))])
            org_props.append((LOCN + "address", address))
        yield Node(org, (M8G + "PublicOrganisation",), org_props)
        yield from self._bases(impl.basis)

        item = self.items.get(impl.item)
        if impl.materials is not None or item is None:
            requirements = [
                _requirement(self.materials, "implementation", impl.code, r) for r in impl.materials or []
            ]
            held = [r.id for r in requirements]
        else:
            requirements = []
            held = [_requirement_iri("item", item.code, r.req) for r in requirements_of(impl, item)]
        yield from requirements

        cost = iri("implementation", impl.code, "cost")
        fee = "不收费" if impl.fee == 0 else f"收费 {impl.fee:g} 元"
        yield Node(
            cost,
            (M8G + "Cost",),
            [
                (DCT + "identifier", plain(f"{impl.code}#fee")),
                (M8G + "hasValue", Lit(repr(float(impl.fee)), None, XSD + "double")),
                (M8G + "currency", CNY),
                (DCT + "description", Lit(fee)),
            ],
        )
        hours = iri("implementation", impl.code, "hours") if impl.hours else None
        if hours is not None:
            yield Node(hours, (TIME + "TemporalEntity",), [(DCT + "description", Lit(impl.hours))])
        channels = []
        if impl.window or impl.address or hours:
            window = iri("implementation", impl.code, "window")
            props: list[tuple[str, Obj]] = [
                (DCT + "identifier", plain(f"{impl.code}#window")),
                (DCT + "type", iri("channel-type", "window")),
                (DCT + "description", Lit("；".join(x for x in (impl.window, impl.address) if x))),
            ]
            if hours is not None:
                props.append((M8G + "openingHours", hours))
            yield Node(window, (M8G + "Channel",), props)
            channels.append(window)
        online = iri("implementation", impl.code, "online")
        yield Node(
            online,
            (M8G + "Channel",),
            [
                (DCT + "identifier", plain(f"{impl.code}#online")),
                (DCT + "type", iri("channel-type", "online")),
                (
                    DCT + "description",
                    Lit(f"网上办理深度 {impl.online_depth}：{DEPTH_NAMES[impl.online_depth]}"),
                ),
            ],
        )
        channels.append(online)
        for kind in impl.channels or ():
            if kind in ("window", "online"):
                continue
            other = iri("implementation", impl.code, kind)
            yield Node(
                other,
                (M8G + "Channel",),
                [
                    (DCT + "identifier", plain(f"{impl.code}#{kind}")),
                    (DCT + "type", iri("channel-type", kind)),
                    (DCT + "description", Lit(CHANNELS[kind])),
                ],
            )
            channels.append(other)
        contact = None
        if impl.phone or hours:
            contact = iri("implementation", impl.code, "contact")
            props = [(M8G + "telephone", plain(impl.phone))] if impl.phone else []
            if hours is not None:
                props.append((M8G + "openingHours", hours))
            yield Node(contact, (M8G + "ContactPoint",), props)

        where = self.regions[impl.region].name if impl.region in self.regions else impl.region
        description = (
            f"{impl.agency.name}（{where}）实施；承诺办结时限 {impl.promised_days} 个工作日"
            f"（法定 {impl.statutory_days} 个工作日）；到现场 {impl.visits} 次；"
            f"网上办理深度 {impl.online_depth}（{DEPTH_NAMES[impl.online_depth]}）"
        )
        props = [
            (DCT + "identifier", plain(impl.code)),
            (DCT + "title", Lit(impl.name)),
            (DCT + "description", Lit(description)),
            (DCT + "type", iri("item-type", impl.type)),
            (M8G + "hasCompetentAuthority", org),
            (DCT + "spatial", region),
            (M8G + "relatedService", item_iri(impl.item)),
            (M8G + "hasCost", cost),
        ]
        props += [(M8G + "hasLegalResource", _basis_iri(b)) for b in impl.basis]
        props += [(M8G + "holdsRequirement", r) for r in held]
        props += [(M8G + "hasChannel", c) for c in channels]
        if contact is not None:
            props.append((M8G + "contactPoint", contact))
        yield Node(me, (CPSV + "PublicService",), props)

    def _bundle(self, bundle: Bundle) -> Iterator[Node]:
        me = iri("bundle", bundle.id)
        business = any(
            f.startswith("business.")
            for code in bundle.items
            if code in self.items
            for f in self.items[code].fields
        )
        kind = M8G + ("BusinessEvent" if business else "LifeEvent")
        props: list[tuple[str, Obj]] = [
            (DCT + "identifier", plain(bundle.id)),
            (DCT + "title", Lit(bundle.name)),
            (DCT + "description", Lit(bundle.description or bundle.name)),
        ]
        props += [(M8G + "hasRelatedService", item_iri(c)) for c in dict.fromkeys(bundle.items)]
        yield Node(me, (kind, M8G + "Event"), props)
        for code in dict.fromkeys(bundle.items):
            yield Node(item_iri(code), (), [(M8G + "isGroupedBy", me)], scope=CPSV + "PublicService")


def _service_point(point: ServicePoint) -> Iterator[Node]:
    """A service point as a window channel in its region, with its address, hours, contact and place."""
    me = iri("service-point", point.id)
    windows = "、".join(w.name for w in point.windows)
    props: list[tuple[str, Obj]] = [
        (DCT + "identifier", plain(point.id)),
        (DCT + "type", iri("channel-type", "window")),
        (DCT + "description", Lit(point.name + (f"（{windows}）" if windows else ""))),
        (DCT + "spatial", iri("region", point.region)),
    ]
    if point.address:
        address = iri("service-point", point.id, "address")
        yield Node(address, (LOCN + "Address",), [(LOCN + "fullAddress", Lit(point.address))])
        props.append((LOCN + "address", address))
    if point.hours:
        hours = iri("service-point", point.id, "hours")
        yield Node(hours, (TIME + "TemporalEntity",), [(DCT + "description", Lit(point.hours))])
        props.append((M8G + "openingHours", hours))
    if point.phone:
        contact = iri("service-point", point.id, "contact")
        yield Node(contact, (M8G + "ContactPoint",), [(M8G + "telephone", plain(point.phone))])
        props.append((M8G + "contactPoint", contact))
    if point.location is not None:
        wkt = f"POINT({point.location.lon!r} {point.location.lat!r})"
        props.append((LOCN + "geometry", Lit(wkt, None, GEO + "wktLiteral")))
    yield Node(me, (M8G + "Channel",), props)


def nodes(records: Iterable[object]) -> Iterator[Node]:
    """The CPSV-AP nodes of a catalog's records (small records first, as the store exports)."""
    return Exporter().nodes(records)


def _concept(node: str, code: str, name: str) -> Node:
    return Node(
        node, (SKOS + "Concept",), [(SKOS + "notation", plain(code)), (SKOS + "prefLabel", Lit(name))]
    )


def _evidence(material: Material) -> Node:
    notes = []
    if material.aliases:
        notes.append("又称" + "、".join(material.aliases))
    if material.e_license:
        notes.append("电子证照库可调取，免提交")
    if material.commitment:
        notes.append("可以告知承诺代替")
    if material.retained:
        notes.append("保留的证明事项")
    props: list[tuple[str, Obj]] = [
        (DCT + "identifier", plain(material.id)),
        (DCT + "title", Lit(material.name)),
        (DCT + "type", iri("material-category", material.category)),
    ]
    if notes:
        props.append((DCT + "description", Lit("；".join(notes))))
    return Node(iri("material", material.id), (M8G + "Evidence",), props)


def _requirement(materials: dict[str, Material], owner: str, code: str, r: Requirement) -> Node:
    names = "或".join(materials[m].name if m in materials else m for m in r.any_of)
    props: list[tuple[str, Obj]] = [
        (DCT + "identifier", plain(f"{code}#{r.req}")),
        (DCT + "title", Lit(f"{r.req}：{names}" if names else r.req)),
    ]
    notes = []
    if r.optional:
        notes.append("如有则提交（不计入）")
    if r.deferrable:
        notes.append("容缺受理，可后补")
    if r.when:
        notes.append(
            "适用情形：" + "；".join(f"{q} 为 {'或'.join(answers)}" for q, answers in r.when.items())
        )
    if notes:
        props.append((DCT + "description", Lit("；".join(notes))))
    props += [(M8G + "hasSupportingEvidence", iri("material", m)) for m in r.any_of]
    return Node(_requirement_iri(owner, code, r.req), (M8G + "Requirement",), props)
