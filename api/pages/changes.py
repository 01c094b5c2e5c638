"""What approving a submission would change, named as people know the records: by region and
item name, the field by its label (`catalog.words`), the values in words —
`兴庆区 · 食品经营许可 · 承诺办结时限 9 → 7` — never a 31-character implementation code or a
field's name in the format.

`change_lines` reads a submission's diff (keys and `{field: [old, new]}`) with the newest
catalog's small records, the stored implementations it names (where removed ones still stand:
the served catalog holds no implementations in memory) and the records the submission brings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from catalog.model import ITEM_TYPES, KEY_FIELD, KIND, Catalog, Header, Implementation, record_decoder
from catalog.wording import KIND_NAMES
from catalog.words import FIELD_LABELS, field_label, level_name

MAX_LINES = 300
"""Change lines the approval page shows (the counts above say how many there are in all)."""
MAX_VALUE = 160
"""Characters of one value shown (a long list of legal bases is cut with `…`)."""

CHANGE_WORDS = {"added": "新增", "removed": "删除", "changed": "修改"}
KIND_ORDER = ("implementation", "item", "region", "material", "field", "question", "bundle", "catalog")

# What the compare table's rows show of an implementation (the rest goes to 其他变化).
ROW_OF_FIELD = {
    "region": "region",
    "agency": "agency",
    "name": "name",
    "type": "type",
    "basis": "basis",
    "code": "code",
    "materials": "materials",
    "promised_days": "days",
    "statutory_days": "days",
    "window": "window",
}


@dataclass(frozen=True)
class ChangeLine:
    """One line of the change list: `where · label old → new` (or `where · 新增…`)."""

    kind: str
    key: str
    change: str
    where: str
    field: str = ""
    label: str = ""
    old: str = ""
    new: str = ""

    @property
    def text(self) -> str:
        if not self.field:
            return f"{self.where} · {self.label}"
        return f"{self.where} · {self.label} {self.old} → {self.new}"


def submitted_records(raw: bytes, wanted: Mapping[str, set[str]]) -> dict[str, dict[str, Any]]:
    """The records of a submitted file whose (kind, key) is in `wanted`, by kind and key."""
    out: dict[str, dict[str, Any]] = {}
    for line in raw.splitlines():
        try:
            record = record_decoder.decode(line)
        except msgspec.DecodeError:
            continue
        if isinstance(record, Header):
            continue
        kind = KIND[type(record)]
        key = str(getattr(record, KEY_FIELD[type(record)]))
        if key in wanted.get(kind, ()):
            out.setdefault(kind, {})[key] = record
    return out


class Namer:
    """Names for the codes of one catalog (the newest), and the submission's own records."""

    def __init__(
        self,
        catalog: Catalog,
        submitted: Mapping[str, Mapping[str, Any]],
        implementations: Mapping[str, Implementation] | None = None,
    ):
        self.catalog = catalog
        self.submitted = submitted
        self.implementations = implementations or {}
        """The stored implementations the page read (a served catalog holds none in memory)."""

    def record(self, kind: str, key: str) -> Any:
        mine = self.submitted.get(kind, {}).get(key)
        if mine is not None:
            return mine
        if kind == "implementation" and key in self.implementations:
            return self.implementations[key]
        tables: dict[str, Mapping[str, Any]] = {
            "implementation": self.catalog.implementations,
            "item": self.catalog.items,
            "region": self.catalog.regions,
            "material": self.catalog.materials,
            "bundle": self.catalog.bundles,
            "question": self.catalog.questions,
            "field": self.catalog.fields,
        }
        return tables.get(kind, {}).get(key)

    def region(self, code: str) -> str:
        found = self.record("region", code)
        return found.name if found is not None else code

    def item(self, code: str) -> str:
        found = self.record("item", code)
        return found.name if found is not None else code

    def material(self, mid: str) -> str:
        found = self.record("material", mid)
        return found.name if found is not None else mid

    def where(self, kind: str, key: str) -> str:
        """`兴庆区 · 食品经营许可` for an implementation, `事项 · 食品经营许可` for an item…"""
        record = self.record(kind, key)
        if kind == "implementation":
            if isinstance(record, Implementation):
                return f"{self.region(record.region)} · {self.item(record.item)}"
            return f"实施清单 {key}"
        if kind == "catalog":
            return "目录头"
        name = None
        if record is not None:
            name = (
                getattr(record, "name", None)
                or getattr(record, "text", None)
                or getattr(record, "label", None)
            )
        return f"{KIND_NAMES.get(kind, kind)} · {name or key}"

    def value(self, field: str, value: Any) -> str:
        """A field's value in words."""
        return _cut(self._value(field, value))

    def _value(self, field: str, value: Any) -> str:
        if value is None:
            return "同基本目录" if field == "materials" else "（无）"
        if value == "" or value == [] or value == {}:
            return "（空）"
        if isinstance(value, bool):
            return "是" if value else "否"
        if isinstance(value, float):
            return f"{value:g}"
        if field in ("region", "parent", "owner") and isinstance(value, str):
            return self.region(value)
        if field == "item" and isinstance(value, str):
            return self.item(value)
        if field == "type" and isinstance(value, str):
            return ITEM_TYPES.get(value, value)
        if field == "level" and isinstance(value, str):
            return level_name(value)
        if isinstance(value, list):
            if field in ("requires", "items"):
                return "、".join(self.item(v) for v in value)
            if field == "regions":
                return "、".join(self.region(v) for v in value)
            if field == "outputs":
                return "、".join(self.material(v) for v in value)
            if field == "levels":
                return "、".join(level_name(str(v)) for v in value)
            if field == "materials":
                return "；".join(self._requirement(r) for r in value)
            if field == "basis":
                return "；".join(str(v) for v in value)
            if all(isinstance(v, str | int | float) for v in value):
                return "、".join(str(v) for v in value)
        if field == "agency" and isinstance(value, dict):
            return str(value.get("name", ""))
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return str(value)

    def _requirement(self, req: Any) -> str:
        if not isinstance(req, dict):
            return str(req)
        names = "或".join(self.material(m) for m in req.get("any_of", []))
        marks = [word for flag, word in (("optional", "非必需"), ("deferrable", "可容缺")) if req.get(flag)]
        if req.get("when"):
            marks.append("视情形")
        return f"{names}（{'，'.join(marks)}）" if marks else names


_RANK = {field: n for n, field in enumerate(FIELD_LABELS)}


def _rank(field: str) -> int:
    """A record's fields in the order the format lists them (名称 before 承诺办结时限 before 咨询电话)."""
    return _RANK.get(field.split(".", 1)[0], len(_RANK))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def field_lines(
    namer: Namer, kind: str, key: str, where: str, fields: Mapping[str, list[Any]]
) -> list[ChangeLine]:
    """A changed record's lines, one per field (an agency's name and code apart)."""
    out: list[ChangeLine] = []
    for field, (old, new) in fields.items():
        if field == "agency" and isinstance(old, dict) and isinstance(new, dict):
            shown = [
                (
                    f"agency.{part}",
                    field_label(word),
                    _cut(str(old.get(part) or "（空）")),
                    _cut(str(new.get(part) or "（空）")),
                )
                for part, word in (("name", "agency"), ("uscc", "uscc"))
                if old.get(part) != new.get(part)
            ]
        else:
            shown = [(field, field_label(field), namer.value(field, old), namer.value(field, new))]
        out.extend(ChangeLine(kind, key, "changed", where, *line) for line in shown)
    return out


def change_lines(diff: Any, namer: Namer) -> tuple[list[ChangeLine], int]:
    """The diff's lines, implementations first, each kind by where it is (at most MAX_LINES),
    and how many there are in all."""
    lines: list[ChangeLine] = []
    kinds = sorted(
        diff.added.keys() | diff.removed.keys() | diff.changed.keys(),
        key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k),
    )
    noun = {"implementation": "实施清单"}
    for kind in kinds:
        own: list[ChangeLine] = []
        what = noun.get(kind, KIND_NAMES.get(kind, kind))
        for key in diff.added.get(kind, ()):
            own.append(ChangeLine(kind, key, "added", namer.where(kind, key), label=f"新增{what}"))
        for key in diff.removed.get(kind, ()):
            own.append(ChangeLine(kind, key, "removed", namer.where(kind, key), label=f"删除{what}"))
        for key, fields in diff.changed.get(kind, {}).items():
            own.extend(field_lines(namer, kind, key, namer.where(kind, key), fields or {}))
        own.sort(key=lambda c: (c.where, c.change != "changed", c.key, _rank(c.field)))
        lines.extend(own)
    return lines[:MAX_LINES], len(lines)


def changed_rows(fields: Mapping[str, list[Any]], namer: Namer) -> dict[str, list[str]]:
    """For the compare table: row → `原：…` notes of the fields that changed in it (fields
    without a row of their own under `other`, with their label)."""
    rows: dict[str, list[str]] = {}
    for field, (old, _) in fields.items():
        row = ROW_OF_FIELD.get(field, "other")
        if field == "agency" and isinstance(old, dict):
            note = f"原：{old.get('name', '')}（{old.get('uscc', '')}）"
        elif row == "days":
            note = f"原{field_label(field)} {namer.value(field, old)}"
        elif row == "other":
            note = f"{field_label(field)} 原：{namer.value(field, old)}"
        else:
            note = f"原：{namer.value(field, old)}"
        rows.setdefault(row, []).append(note)
    return rows
