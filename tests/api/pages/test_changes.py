"""The approval page's change list, no server needed: a diff named as people know its records —
by region and item name, fields by label, values in words — never by code or field name."""

from __future__ import annotations

import msgspec
import pytest

from api.pages.changes import Namer, change_lines, changed_rows, submitted_records
from catalog.model import Catalog, record_encoder
from catalog.store.reads import Diff
from catalog.validate import load_file
from tests.conftest import NINGXIA


@pytest.fixture(scope="module")
def ningxia() -> Catalog:
    catalog, report = load_file(NINGXIA)
    assert report.ok
    return catalog


def test_a_diff_is_named_by_region_item_and_label(ningxia: Catalog) -> None:
    mine = sorted((i for i in ningxia.implementations.values() if i.region == "640104"), key=lambda i: i.code)
    food = next(i for i in mine if ningxia.items[i.item].name == "食品经营许可")
    gone, new = [i for i in mine if ningxia.items[i.item].name != "食品经营许可"][:2]
    added = msgspec.structs.replace(new, code=new.code[:-1] + "9")  # as a submission would bring it
    raw = record_encoder.encode(added) + b"\n"
    first = food.materials[0] if food.materials else ningxia.items[food.item].materials[0]
    diff = Diff(
        old=1,
        new=2,
        added={"implementation": [added.code]},
        removed={"implementation": [gone.code]},
        changed={
            "implementation": {
                food.code: {
                    "promised_days": [9, 7],
                    "agency": [
                        {"name": food.agency.name, "uscc": food.agency.uscc},
                        {"name": "兴庆区行政审批服务局", "uscc": food.agency.uscc},
                    ],
                    "materials": [None, [msgspec.to_builtins(first)]],
                }
            },
            "item": {food.item: {"type": ["01", "20"]}},
        },
    )
    wanted = {"implementation": {added.code, gone.code, food.code}}
    namer = Namer(ningxia, submitted_records(raw, wanted))
    lines, total = change_lines(diff, namer)
    texts = [line.text for line in lines]
    assert total == len(lines) == 6
    region, item = "兴庆区", "食品经营许可"
    assert f"{region} · {item} · 承诺办结时限 9 → 7" in texts
    assert f"{region} · {item} · 实施主体 {food.agency.name} → 兴庆区行政审批服务局" in texts
    names = "或".join(ningxia.materials[m].name for m in first.any_of)
    assert f"{region} · {item} · 申请材料 同基本目录 → {names}" in texts
    assert f"{region} · {ningxia.items[gone.item].name} · 删除实施清单" in texts
    assert f"{region} · {ningxia.items[added.item].name} · 新增实施清单" in texts
    assert f"事项 · {item} · 类型 行政许可 → 公共服务" in texts
    assert [line.kind for line in lines][-1] == "item"  # implementations first
    joined = "\n".join(texts)
    for word in ("promised_days", "agency", "materials", food.code, gone.code, added.code):
        assert word not in joined

    rows = changed_rows(diff.changed["implementation"][food.code], namer)
    assert rows["days"] == ["原承诺办结时限 9"]
    assert rows["agency"] == [f"原：{food.agency.name}（{food.agency.uscc}）"]
