"""Hand-built catalogs for the bundler's tests: valid by the spec, small enough to reason about.

Regions: the nation, 宁夏 640000, 银川 640100 with counties 兴庆区 640104 and
西夏区 640105, 石嘴山 640200 with county 大武口区 640202. Item codes,
USCCs and implementation codes follow §2, so a written catalog validates clean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bundler import Metrics
from catalog import model
from catalog.codes import implementation_code, uscc_check_char
from catalog.model import Agency, Catalog, Implementation, Requirement, record_encoder
from fixtures.ningxia import REGIONS as NINGXIA_REGIONS
from fixtures.ningxia import req

__all__ = ["REGIONS", "Builder", "metrics", "req"]  # req: the tests build requirements as the fixture does

# The nation, 宁夏, 银川 with 兴庆区 and 西夏区, 石嘴山 with 大武口区: the fixture's rows.
REGIONS = [
    r
    for r in NINGXIA_REGIONS
    if r.code in {"000000", "640000", "640100", "640104", "640105", "640200", "640202"}
]


def metrics(
    *,
    materials: tuple[int, int],
    visits: tuple[int, int],
    days: tuple[int, int],
    forms: tuple[int, int],
    fields: tuple[int, int],
    fees: float = 0.0,
) -> Metrics:
    """The Metrics a test expects, each figure as (before, after)."""
    return Metrics(
        materials_before=materials[0],
        materials_after=materials[1],
        visits_before=visits[0],
        visits_after=visits[1],
        days_before=days[0],
        days_after=days[1],
        forms_before=forms[0],
        forms_after=forms[1],
        fields_before=fields[0],
        fields_after=fields[1],
        fees=fees,
    )


class Builder:
    def __init__(self) -> None:
        self.catalog = Catalog(header=model.Header("onething-catalog/1", "test.1", "测试目录"))
        self.catalog.regions = {r.code: r for r in REGIONS}
        self.catalog.materials = {}
        self.catalog.fields = {}
        self.catalog.items = {}
        self.catalog.implementations = {}
        self.catalog.bundles = {}
        self.catalog.questions = {}
        self._agencies = 0

    def split_into_items(self, requirements: list[Requirement], cuts: list[int]) -> list[str]:
        """Up to three items, the requirements cut at the two `cuts` (an empty part makes no item),
        each implemented in 兴庆区."""
        parts = [requirements[: cuts[0]], requirements[cuts[0] : cuts[1]], requirements[cuts[1] :]]
        items = [self.item(n + 1, *part) for n, part in enumerate(parts) if part]
        for item in items:
            self.implement(item)
        return items

    def material(
        self,
        id: str,
        name: str | None = None,
        *,
        e_license: bool = False,
        commitment: bool = False,
        category: str = "other",
        retained: bool = False,
    ) -> str:
        self.catalog.materials[id] = model.Material(
            id,
            name or f"材料{id}",
            category,  # type: ignore[arg-type]
            e_license=e_license,
            commitment=commitment,
            retained=retained,
        )
        return id

    def question(self, id: str, *answers: str) -> str:
        self.catalog.questions[id] = model.Question(id, f"问题{id}？", {a: f"答{a}" for a in answers})
        return id

    def field(
        self, id: str, label: str | None = None, type: str = "text", choices: list[str] | None = None
    ) -> str:
        self.catalog.fields[id] = model.Field(id, label or f"字段{id}", type, choices)  # type: ignore[arg-type]
        return id

    def item(
        self,
        serial: int,
        *requirements: Requirement,
        outputs: tuple[str, ...] = (),
        requires: tuple[str, ...] = (),
        fields: tuple[str, ...] = (),
        days: int = 20,
        name: str | None = None,
    ) -> str:
        """A national 行政许可 item; every material it names is added to the dictionary."""
        code = f"0001{serial:05d}000"
        for requirement in requirements:
            for m in requirement.any_of:
                if m not in self.catalog.materials:
                    self.material(m)
        for m in outputs:
            if m not in self.catalog.materials:
                self.material(m)
        for f in fields:
            if f not in self.catalog.fields:
                self.field(f)
        self.catalog.items[code] = model.Item(
            code=code,
            name=name or f"事项{serial}",
            type="01",
            basis=["《测试法》第一条"],
            owner="000000",
            levels=["national", "province", "city", "county"],
            materials=list(requirements),
            statutory_days=days,
            outputs=list(outputs),
            requires=list(requires),
            fields=list(fields),
        )
        return code

    def implement(
        self,
        item: str,
        region: str = "640104",
        *,
        promised_days: int = 5,
        visits: int = 1,
        materials: list[Requirement] | None = None,
        agency: str | None = None,
        fee: float = 0.0,
        window: str | None = None,
    ) -> Implementation:
        """An implementation by a fresh agency of `region` (or the named one's USCC body, 9 chars)."""
        self._agencies += 1
        body = f"11{region}{agency or f'MB{self._agencies:07d}'}"
        uscc = body + uscc_check_char(body)
        level = self.catalog.regions[region].level
        record = self.catalog.items[item]
        impl = Implementation(
            code=implementation_code(uscc, level, item),
            item=item,
            region=region,
            agency=Agency(f"{self.catalog.regions[region].name}机构{self._agencies}", uscc),
            name=record.name,
            type=record.type,
            basis=list(record.basis),
            statutory_days=record.statutory_days,
            promised_days=promised_days,
            visits=visits,
            online_depth=3,
            materials=materials,
            fee=fee,
            window=f"{self.catalog.regions[region].name}政务服务大厅" if window is None else window,
        )
        self.catalog.implementations[impl.code] = impl
        return impl

    def bundle(self, id: str, *items: str, name: str | None = None, **terms: Any) -> str:
        """`terms`: the bundle's revision-2 fields (regions, window, target_days, when)."""
        self.catalog.bundles[id] = model.Bundle(id, name or f"{id}一件事", list(items), **terms)
        return id

    def write(self, path: Path) -> Path:
        lines = [record_encoder.encode(r) for r in self.catalog.records()]
        path.write_bytes(b"\n".join(lines) + b"\n")
        return path
