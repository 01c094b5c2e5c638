"""Issue 21: implementation channels (办理渠道) and the region's service points (服务场所) in its
sheet — written and read back exactly, an old sheet without them read as before, and each bad
cell refused where it is with the store unmoved."""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.model import Catalog, Implementation, Location, ServicePoint, Window
from catalog.sheet import DATA_SHEET, read, write
from catalog.sheet.columns import POINT_COLUMNS, POINTS_SHEET, letter
from catalog.store import Store
from catalog.store.sheets import publish_sheet
from catalog.tree import subtree
from tests.conftest import NINGXIA

from .sheets import cells, csv_rows, index, workbook, write_csv
from .test_sheet import (
    COUNTY,
    OTHER_COUNTY,
    exported,
    filled,
    implementations,
    ningxia,
    refused,
    small,
    store,
)

__all__ = ["ningxia", "small", "store"]  # fixtures shared with test_sheet


def points_in(catalog: Catalog, region: str) -> list[ServicePoint]:
    within = subtree(catalog.regions, region)
    return sorted(
        (p for p in catalog.service_points.values() if p.region in within), key=lambda p: (p.region, p.id)
    )


def point_column(label: str) -> int:
    return next(i for i, c in enumerate(POINT_COLUMNS) if c.label == label)


CHANNELS: tuple[list | None, ...] = (
    None,
    [],
    ["window"],
    ["app", "online", "post", "kiosk"],
    ["online", "window"],
)


@pytest.fixture
def places(ningxia: Catalog, small: Catalog) -> tuple[Catalog, dict[str, Implementation]]:
    """The county's implementations with every shape of channels, and its service points plus
    one with a location, a 一件事 window, item windows, 代办 and a name a spreadsheet would run."""
    within = subtree(ningxia.regions, COUNTY)
    mine = sorted((i for i in ningxia.implementations.values() if i.region in within), key=lambda i: i.code)
    impls = {
        i.code: msgspec.structs.replace(i, channels=CHANNELS[n % len(CHANNELS)])  # type: ignore[arg-type]
        for n, i in enumerate(mine)
    }
    items = sorted(ningxia.items)
    hall = ServicePoint(
        id="640104-one",
        name='=HYPERLINK("http://x","兴庆区一件事服务专区")',
        region=COUNTY,
        address="银川市兴庆区解放西街 1 号",
        hours="周一至周五 9:00-17:00",
        phone="0951-1234567",
        location=Location(lon=106.28814159265358, lat=38.47),
        windows=[
            Window(name="一件事综合窗口", bundles=sorted(ningxia.bundles)[:2], items=[]),
            Window(name="不动产登记窗口", bundles=[], items=items[:3]),
            Window(name="咨询窗口", bundles=[], items=[]),
        ],
        assists=items[3:5],
    )
    points = {**ningxia.service_points, hall.id: hall}
    return msgspec.structs.replace(small, service_points=points), impls


def test_channels_and_service_points_round_trip_exactly(tmp_path, places) -> None:
    catalog, impls = places
    path = tmp_path / "places.xlsx"
    write(path, "xlsx", COUNTY, catalog, sorted(impls.values(), key=lambda i: (i.region, i.item, i.code)))
    sheet = read(path, "xlsx", catalog, region=COUNTY, out=tmp_path / "p.jsonl")
    assert sheet.ok, sheet.findings[:3]
    assert implementations(tmp_path / "p.jsonl") == impls
    assert sheet.service_points is not None
    assert list(sheet.service_points.values()) == points_in(catalog, COUNTY)
    shown = {row[point_column("场所编号")]: row for row in cells(path)[POINTS_SHEET][1:]}
    assert shown["640104-one"][point_column("场所名称")].startswith("'=")  # written as text, never run
    # a CSV is one table: the channels travel in it, the service points do not
    write(tmp_path / "places.csv", "csv", COUNTY, catalog, impls.values())
    sheet = read(tmp_path / "places.csv", "csv", catalog, region=COUNTY, out=tmp_path / "c.jsonl")
    assert sheet.ok and sheet.service_points is None
    assert implementations(tmp_path / "c.jsonl") == impls


def test_the_fixtures_county_sheet_keeps_its_township_and_village_points(
    db_url, tmp_path, ningxia, small
) -> None:
    s = Store(db_url)
    try:
        s.publish_file(NINGXIA)
        path = exported(s, tmp_path)
        sheet = read(path, "xlsx", small, region=COUNTY, out=tmp_path / "p.jsonl")
        assert sheet.ok and sheet.service_points is not None
        points = list(sheet.service_points.values())
        assert points == points_in(ningxia, COUNTY)
        assert {len(p.region) for p in points} == {6, 9, 12}  # county, township and village
        published, _ = publish_sheet(s, path, "xlsx")
        assert (published.added, published.changed, published.removed) == (0, 0, 0)
        held = s.catalog()
        assert held is not None and held.service_points == ningxia.service_points
    finally:
        s.dispose()


def test_a_sheet_from_before_channels_and_points_imports_as_before(store, tmp_path, ningxia) -> None:
    book = cells(exported(store, tmp_path))
    gone = index("办理渠道")
    old = {DATA_SHEET: [r[:gone] + r[gone + 1 :] for r in book[DATA_SHEET]]}
    old.update((name, rows) for name, rows in book.items() if name not in (DATA_SHEET, POINTS_SHEET))
    path = workbook(tmp_path / "old.xlsx", old)
    sheet = read(path, "xlsx", store.dictionaries(store.revision()), out=tmp_path / "p.jsonl")
    assert sheet.ok and sheet.service_points is None
    within = subtree(ningxia.regions, COUNTY)
    assert implementations(tmp_path / "p.jsonl") == {
        c: i for c, i in ningxia.implementations.items() if i.region in within
    }
    published, _ = publish_sheet(store, path, "xlsx")
    assert (published.added, published.changed, published.removed) == (0, 0, 0)
    rows = csv_rows(exported(store, tmp_path, fmt="csv"))
    path = write_csv(tmp_path / "old.csv", [r[:gone] + r[gone + 1 :] for r in rows])
    published, _ = publish_sheet(store, path, "csv", region=COUNTY)
    assert (published.added, published.changed, published.removed) == (0, 0, 0)


def test_channels_written_in_words_are_published(store, tmp_path) -> None:
    rows = csv_rows(exported(store, tmp_path, fmt="csv"))
    row = rows[filled(rows)[0]]
    row[index("办理渠道")] = "掌上办理、online，线下窗口"
    published, _ = publish_sheet(store, write_csv(tmp_path / "c.csv", rows), "csv", region=COUNTY)
    assert (published.added, published.changed, published.removed) == (0, 1, 0)
    now = store.implementation(store.revision(), row[index("实施编码")])[0]
    assert now.channels == ["app", "online", "window"]


def test_a_channel_not_in_the_vocabulary_is_refused_at_its_cell(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    rows = book[DATA_SHEET]
    number = filled(rows)[1]
    rows[number][index("办理渠道")] = "线下窗口、传真"
    found = refused(store, workbook(tmp_path / "bad.xlsx", book))
    assert [(f.rule, f.sheet, f.row, f.column, f.label) for f in found] == [
        ("SCHEMA", DATA_SHEET, number + 1, letter(index("办理渠道")), "办理渠道")
    ]
    assert "“传真”不是办理渠道" in found[0].message


def test_bad_service_point_rows_are_refused_at_their_cells(store, tmp_path, ningxia) -> None:
    book = cells(exported(store, tmp_path))
    rows = book[POINTS_SHEET]
    width = len(rows[0])
    first_window = len(POINT_COLUMNS)

    def row(**cells: object) -> list:
        out: list = [""] * width
        out[point_column("场所编号")] = "new-point"
        out[point_column("场所名称")] = "新的便民服务站"
        out[point_column("所在区划")] = COUNTY
        for label, value in cells.items():
            out[point_column(label) if label in {c.label for c in POINT_COLUMNS} else first_window] = value
        return out

    item = min(ningxia.items)
    bad = [
        (row(所在区划=OTHER_COUNTY), "所在区划", "不是本区划"),
        (row(经度=106.2), "纬度", "同时填写"),
        (row(经度="东经106度", 纬度=38.4), "经度", "应为数字"),
        (row(代办事项=f"{item}、999999999999"), "代办事项", "没有事项 999999999999"),
        (row(窗口="综合窗口【其他：x】"), "窗口1", "不认识的标注"),
        (row(窗口=f"【事项：{item}】"), "窗口1", "缺少窗口名称"),
        (row(场所名称=""), "场所名称", "必须填写"),
        ([*rows[1][:width]], "场所编号", "重复"),  # the first point again
    ]
    rows.extend(r for r, _, _ in bad)
    found = refused(store, workbook(tmp_path / "bad.xlsx", book))
    start = len(rows) - len(bad) + 1
    got = sorted((f.row, f.label) for f in found)
    assert got == [(start + n, label) for n, (_, label, _) in enumerate(bad)]
    for f in found:
        _, label, words = bad[f.row - start]  # type: ignore[operator]
        assert words in f.message and f.sheet == POINTS_SHEET and f.line is None
        expected = first_window if label == "窗口1" else point_column(label)
        assert f.column == letter(expected)


def test_a_changed_service_point_is_refused_not_dropped(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    rows = book[POINTS_SHEET]
    rows[2][point_column("咨询电话")] = "0951-7654321"
    found = refused(store, workbook(tmp_path / "changed.xlsx", book))
    assert [(f.rule, f.sheet, f.row) for f in found] == [("SCOPE", POINTS_SHEET, 3)]
    assert rows[2][point_column("场所名称")] in found[0].message


def test_a_merged_cell_in_the_points_sheet_is_refused(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    ordered = {POINTS_SHEET: book.pop(POINTS_SHEET), **book}  # `workbook` merges in its first sheet
    found = refused(store, workbook(tmp_path / "merged.xlsx", ordered, merged=((1, 3, 2, 3),)))
    assert [(f.sheet, f.row, f.column) for f in found] == [(POINTS_SHEET, 2, "D")]


TEXT = st.text(st.sampled_from(list("兴庆区便民服务站 12号\t\n：，,\"=／'+-@【】")), max_size=30)
WINDOW_NAME = st.text(st.sampled_from(list("综合窗口一件事 =+-@'：，")), min_size=1, max_size=12).filter(
    lambda n: n == n.strip() and bool(n)
)
CODES = st.lists(st.text(st.sampled_from(list("0123456789abc-")), min_size=1, max_size=12), max_size=4)


@st.composite
def generated_points(draw, regions: list[str]) -> ServicePoint:
    located = draw(st.booleans())
    return ServicePoint(
        id=draw(st.text(st.sampled_from(list("0123456789abc-")), min_size=1, max_size=20)),
        name=draw(TEXT.filter(lambda n: bool(n.strip()))),
        region=draw(st.sampled_from(regions)),
        address=draw(TEXT),
        hours=draw(TEXT),
        phone=draw(TEXT),
        location=Location(lon=draw(st.floats(-180, 180)), lat=draw(st.floats(-90, 90))) if located else None,
        windows=draw(
            st.lists(st.builds(Window, name=WINDOW_NAME, bundles=CODES, items=st.just([])), max_size=3)
        ),
    )


def test_any_service_point_reads_back_as_it_was_written(ningxia, small) -> None:
    regions = sorted(subtree(ningxia.regions, COUNTY))

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(generated_points(regions), max_size=5, unique_by=lambda p: p.id))
    def check(points: list[ServicePoint]) -> None:
        catalog = msgspec.structs.replace(small, service_points={p.id: p for p in points})
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.xlsx"
            write(path, "xlsx", COUNTY, catalog, [])
            sheet = read(path, "xlsx", catalog, region=COUNTY, out=Path(tmp) / "p.jsonl")
            assert sheet.ok, sheet.findings[:3]
            assert list((sheet.service_points or {}).values()) == points_in(catalog, COUNTY)

    check()
