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

Level = Literal["national", "province", "city", "county", "township", "village"]
LEVELS: tuple[Level, ...] = ("national", "province", "city", "county", "township", "village")
LEVEL_DIGIT: dict[str, str] = {
    "national": "1",
    "province": "2",
    "city": "3",
    "county": "4",
    "township": "5",
    "village": "6",
}

Channel = Literal["window", "online", "app", "kiosk", "post"]
"""Where an item can be applied for (revision 3): a service point's window, the web portal, the
mobile app (掌上办), a self-service terminal, by mail."""

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
Yuan = Annotated[float, Meta(ge=0, le=1e9)]

# Every string and list has a bound (an unbounded field lets a 2 GB line validate clean and
# break whatever stores it). msgspec checks a length as it decodes, at no measurable cost;
# control characters are checked by `catalog.rules.strings` (a `pattern` here would cost a
# regular-expression search per string of a national catalog).
Code = Annotated[str, Meta(max_length=64)]
"""Keys, codes, ids, answer ids, requirement names."""
Name = Annotated[str, Meta(max_length=200)]
"""Names, labels, windows, addresses, hours, phone numbers."""
Text = Annotated[str, Meta(max_length=2000)]
"""Free text: descriptions, questions, legal bases."""
Codes = Annotated[list[Code], Meta(max_length=1000)]
Answers = Annotated[list[Code], Meta(min_length=1, max_length=50)]
When = Annotated[dict[Code, Answers], Meta(max_length=20)]
"""A situation: question id -> the answers under which the requirement (or item) applies; all
questions must match. An empty list of answers could never apply, so it is a SCHEMA finding."""

# Every record is immutable once decoded and never forms a reference cycle,
# so the garbage collector need not track it (a 4x faster load at scale).
_RECORD = {
    "tag_field": "kind",
    "forbid_unknown_fields": True,
    "frozen": True,
    "gc": False,
    "omit_defaults": True,
}


class Header(Struct, tag="catalog", **_RECORD):  # type: ignore[call-arg]
    format: Code
    version: Code
    title: Name = ""


class Region(Struct, tag="region", **_RECORD):  # type: ignore[call-arg]
    code: Code
    name: Name
    level: Level
    parent: Code | None


class Material(Struct, tag="material", **_RECORD):  # type: ignore[call-arg]
    id: Code
    name: Name
    category: Category
    aliases: Annotated[list[Name], Meta(max_length=100)] = []
    e_license: bool = False
    commitment: bool = False
    retained: bool = False
    """On the list of proofs that may still be demanded (保留的证明事项)."""


class Field(Struct, tag="field", **_RECORD):  # type: ignore[call-arg]
    id: Code
    label: Name
    type: FieldType
    choices: Annotated[list[Name], Meta(max_length=200)] | None = None


class Question(Struct, tag="question", **_RECORD):  # type: ignore[call-arg]
    """A question about the applicant's situation (情形), its answers by id (at least two)."""

    id: Code
    text: Text
    answers: Annotated[dict[Code, Name], Meta(min_length=2, max_length=50)]


class Requirement(Struct, forbid_unknown_fields=True, frozen=True, gc=False, omit_defaults=True):
    """One requirement of an item: met by any one material of `any_of`."""

    req: Code
    any_of: Annotated[list[Code], Meta(max_length=100)]
    optional: bool = False
    deferrable: bool = False
    """Accepted without it, taken later (容缺受理); it still counts."""
    when: When = {}
    """Applies only in this situation (empty: always)."""


class Item(Struct, tag="item", **_RECORD):  # type: ignore[call-arg]
    code: Code
    name: Name
    type: ItemType
    basis: Annotated[list[Text], Meta(max_length=100)]
    owner: Code
    levels: Annotated[list[Level], Meta(max_length=6)]
    materials: Annotated[list[Requirement], Meta(max_length=200)]
    statutory_days: Days
    main: Code | None = None
    outputs: Annotated[list[Code], Meta(max_length=100)] = []
    requires: Annotated[list[Code], Meta(max_length=200)] = []
    fields: Annotated[list[Code], Meta(max_length=500)] = []


class Agency(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    name: Name
    uscc: Code


class Implementation(Struct, tag="implementation", **_RECORD):  # type: ignore[call-arg]
    code: Code
    item: Code
    region: Code
    agency: Agency
    name: Name
    type: ItemType
    basis: Annotated[list[Text], Meta(max_length=100)]
    statutory_days: Days
    promised_days: Days
    visits: Visits
    online_depth: OnlineDepth
    materials: Annotated[list[Requirement], Meta(max_length=200)] | None = None
    fee: Yuan = 0.0
    window: Name = ""
    address: Name = ""
    hours: Name = ""
    phone: Annotated[str, Meta(max_length=64)] = ""
    channels: Annotated[list[Channel], Meta(max_length=5)] | None = None
    """Where it can be applied for (revision 3); None: as `channels_of` says by default."""


def channels_of(impl: Implementation) -> list[str]:
    """An implementation's channels: its own, or ["window"] plus "online" from 网上办理深度 3 on."""
    if impl.channels is not None:
        return list(impl.channels)
    return ["window", "online"] if impl.online_depth >= 3 else ["window"]


class Location(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """WGS-84 degrees."""

    lon: Annotated[float, Meta(ge=-180, le=180)]
    lat: Annotated[float, Meta(ge=-90, le=90)]


class Window(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """One window of a service point: the whole bundles it takes (一件事窗口, 全科窗口) and the
    single items."""

    name: Name
    bundles: Codes
    items: Codes


class ServicePoint(Struct, tag="service_point", **_RECORD):  # type: ignore[call-arg]
    """A place where applicants hand in cases (revision 3): 政务服务中心, 便民服务中心, 便民服务站.
    It serves its region and the regions under it."""

    id: Code
    name: Name
    region: Code
    address: Name
    hours: Name
    phone: Annotated[str, Meta(max_length=64)]
    location: Location | None = None
    windows: Annotated[list[Window], Meta(max_length=200)] = []
    assists: Codes = []
    """Items taken in on the applicant's behalf (代办、帮办) though an agency elsewhere implements them."""


class Bundle(Struct, tag="bundle", **_RECORD):  # type: ignore[call-arg]
    id: Code
    name: Name
    items: Annotated[list[Code], Meta(max_length=200)]
    description: Text = ""
    regions: Codes | None = None
    """Where it is offered: these regions and everything under them; None: everywhere."""
    window: Name = ""
    """The one comprehensive window (一窗受理) that takes the whole case."""
    target_days: Days | None = None
    when: Annotated[dict[Code, When], Meta(max_length=200)] = {}
    """Member item -> the situation in which it applies."""


Record = Header | Region | Material | Field | Question | Item | Implementation | Bundle | ServicePoint

KEY_FIELD: dict[type, str] = {
    Region: "code",
    Material: "id",
    Field: "id",
    Question: "id",
    Item: "code",
    Implementation: "code",
    Bundle: "id",
    ServicePoint: "id",
}
KIND: dict[type, str] = {
    Header: "catalog",
    Region: "region",
    Material: "material",
    Field: "field",
    Question: "question",
    Item: "item",
    Implementation: "implementation",
    Bundle: "bundle",
    ServicePoint: "service_point",
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
    questions: dict[str, Question] = {}
    items: dict[str, Item] = {}
    implementations: dict[str, Implementation] = {}
    bundles: dict[str, Bundle] = {}
    service_points: dict[str, ServicePoint] = {}
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
            self.questions,
            self.items,
            self.implementations,
            self.bundles,
            self.service_points,
        ):
            out.extend(table[k] for k in sorted(table))
        return out


record_decoder = msgspec.json.Decoder(Record)
record_encoder = msgspec.json.Encoder()
