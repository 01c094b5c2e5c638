"""The records of onething catalog format 1 — the spec's §1 in code.

One `msgspec.Struct` per record kind, a tagged union on `kind`. Every
boundary (file, HTTP body, database row) decodes into these types. Shapes
that have their own rule id (region codes, item codes, USCC) are plain
strings here and are checked by `catalog.rules`; what msgspec rejects while
decoding (missing or ill-typed field, bad enum value, unknown field) is a
`SCHEMA` finding.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

FORMAT = "onething-catalog/1"

Level = Literal["national", "province", "city", "county"]
LEVELS: tuple[Level, ...] = ("national", "province", "city", "county")
LEVEL_DIGIT: dict[str, str] = {"national": "1", "province": "2", "city": "3", "county": "4"}

ItemType = Literal["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "20"]
ITEM_TYPES: dict[str, str] = {
    "01": "行政许可",
    "02": "行政处罚",
    "03": "行政强制",
    "04": "行政征收",
    "05": "行政给付",
    "06": "行政检查",
    "07": "行政确认",
    "08": "行政奖励",
    "09": "行政裁决",
    "10": "其他行政权力",
    "20": "公共服务",
}

Category = Literal["identity", "license", "certificate", "form", "photo", "contract", "other"]
FieldType = Literal["text", "date", "number", "id_number", "phone", "address", "choice"]

Days = Annotated[int, Meta(ge=0, le=3650)]
Visits = Annotated[int, Meta(ge=0, le=5)]
OnlineDepth = Annotated[int, Meta(ge=1, le=4)]
Yuan = Annotated[float, Meta(ge=0)]

# Every record is immutable once decoded and never forms a reference cycle,
# so the garbage collector need not track it (a 4x faster load at scale).
_RECORD = {"tag_field": "kind", "forbid_unknown_fields": True, "frozen": True, "gc": False, "omit_defaults": True}


class Header(Struct, tag="catalog", **_RECORD):  # type: ignore[call-arg]
    format: str
    version: str
    title: str = ""


class Region(Struct, tag="region", **_RECORD):  # type: ignore[call-arg]
    code: str
    name: str
    level: Level
    parent: str | None


class Material(Struct, tag="material", **_RECORD):  # type: ignore[call-arg]
    id: str
    name: str
    category: Category
    aliases: list[str] = []
    e_license: bool = False
    commitment: bool = False


class Field(Struct, tag="field", **_RECORD):  # type: ignore[call-arg]
    id: str
    label: str
    type: FieldType
    choices: list[str] | None = None


class Requirement(Struct, forbid_unknown_fields=True, frozen=True, gc=False, omit_defaults=True):
    """One requirement of an item: met by any one material of `any_of`."""

    req: str
    any_of: list[str]
    optional: bool = False


class Item(Struct, tag="item", **_RECORD):  # type: ignore[call-arg]
    code: str
    name: str
    type: ItemType
    basis: list[str]
    owner: str
    levels: list[Level]
    materials: list[Requirement]
    statutory_days: Days
    main: str | None = None
    outputs: list[str] = []
    requires: list[str] = []
    fields: list[str] = []


class Agency(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    name: str
    uscc: str


class Implementation(Struct, tag="implementation", **_RECORD):  # type: ignore[call-arg]
    code: str
    item: str
    region: str
    agency: Agency
    name: str
    type: ItemType
    basis: list[str]
    statutory_days: Days
    promised_days: Days
    visits: Visits
    online_depth: OnlineDepth
    materials: list[Requirement] | None = None
    fee: Yuan = 0.0
    window: str = ""


class Bundle(Struct, tag="bundle", **_RECORD):  # type: ignore[call-arg]
    id: str
    name: str
    items: list[str]
    description: str = ""


Record = Header | Region | Material | Field | Item | Implementation | Bundle

KEY_FIELD: dict[type, str] = {
    Region: "code",
    Material: "id",
    Field: "id",
    Item: "code",
    Implementation: "code",
    Bundle: "id",
}
KIND: dict[type, str] = {
    Header: "catalog",
    Region: "region",
    Material: "material",
    Field: "field",
    Item: "item",
    Implementation: "implementation",
    Bundle: "bundle",
}


def key_of(record: Record) -> str | None:
    """The record's key (§1), None for the header."""
    name = KEY_FIELD.get(type(record))
    return None if name is None else getattr(record, name)


def requirements_of(impl: Implementation, item: Item) -> list[Requirement]:
    """An implementation's requirements: its own list, or the item's when omitted."""
    return item.materials if impl.materials is None else impl.materials


class Catalog(Struct, kw_only=True):
    """A whole catalog in memory, records by key, with the line each came from.

    Built by `catalog.validate.load_file` (a file) or `catalog.store` (a database); validation and bundling are pure functions over it.
    """

    header: Header
    regions: dict[str, Region] = {}
    materials: dict[str, Material] = {}
    fields: dict[str, Field] = {}
    items: dict[str, Item] = {}
    implementations: dict[str, Implementation] = {}
    bundles: dict[str, Bundle] = {}
    lines: dict[str, dict[str, int]] = {}
    """kind -> key -> line number in the source file (absent for records built in code)."""

    def line_of(self, kind: str, key: str | None) -> int | None:
        if key is None:
            return self.lines.get("catalog", {}).get("")
        return self.lines.get(kind, {}).get(key)

    def records(self) -> list[Record]:
        """Every record, header first, in a stable order (kind, then key)."""
        out: list[Record] = [self.header]
        for table in (
            self.regions,
            self.materials,
            self.fields,
            self.items,
            self.implementations,
            self.bundles,
        ):
            out.extend(table[k] for k in sorted(table))
        return out


record_decoder = msgspec.json.Decoder(Record)
record_encoder = msgspec.json.Encoder()
