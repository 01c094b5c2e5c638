"""Issue 13, part 4: a region's implementation list as a spreadsheet, out and back in.

The round trip is exact on the fixture (county, city, province; xlsx and csv; SQLite and
PostgreSQL) and on generated implementations; every kind of bad sheet is its own test, each
asserting where its finding points (worksheet, row, column) and that the store did not move."""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.load import read_file
from catalog.model import ITEM_TYPES, Agency, Catalog, Implementation, Requirement
from catalog.sheet import (
    COLUMNS,
    DATA_SHEET,
    NOTES_SHEET,
    SheetFinding,
    TooManyRows,
    implementable,
    read,
    write,
)
from catalog.sheet.columns import letter
from catalog.store import Refused, Store
from catalog.store.sheets import export_sheet, publish_sheet
from catalog.tree import subtree
from catalog.validate import load_file
from tests.conftest import NINGXIA, onething

from .sheets import cells, column, csv_rows, index, workbook, write_csv

COUNTY, CITY, PROVINCE = "640104", "640100", "640000"
OTHER_COUNTY = "640105"


@pytest.fixture(scope="module")
def ningxia() -> Catalog:
    catalog, report = load_file(NINGXIA)
    assert report.ok
    return catalog


@pytest.fixture(scope="module")
def small(ningxia: Catalog) -> Catalog:
    """The small records only, as the store hands them to the sheet."""
    return msgspec.structs.replace(ningxia, implementations={})


@pytest.fixture
def store(sqlite_url: str):
    s = Store(sqlite_url)
    s.publish_file(NINGXIA)
    yield s
    s.dispose()


def exported(store: Store, tmp_path: Path, region: str = COUNTY, fmt: str = "xlsx") -> Path:
    path = tmp_path / f"{region}.{fmt}"
    export_sheet(store, path, fmt, region, store.revision())  # type: ignore[arg-type]
    return path


def refused(store: Store, path: Path, fmt: str = "xlsx", region: str | None = None) -> list[SheetFinding]:
    """Publishing the sheet is refused and changes nothing; its findings."""
    before = store.revision()
    with pytest.raises(Refused) as exc:
        publish_sheet(store, path, fmt, region=region)  # type: ignore[arg-type]
    assert store.revision() == before
    assert all(isinstance(f, SheetFinding) for f in exc.value.findings)
    return exc.value.findings  # type: ignore[return-value]


def filled(rows: list[list]) -> list[int]:
    """The indexes of the rows that hold an implementation (not the header, not a template row)."""
    return [n for n, r in enumerate(rows) if n and r[index("实施编码")]]


def implementations(path: Path) -> dict[str, Implementation]:
    return {r.code: r for _, r in read_file(path) if isinstance(r, Implementation)}


# -- the round trip ------------------------------------------------------------------------------


def at(f) -> tuple:
    """Where a finding on the data sheet points: its rule, the sheet's row, the column's header (and
    that the column letter is the header's)."""
    assert (f.sheet, f.column) == (DATA_SHEET, column(f.label))
    return (f.rule, f.row, f.label)


def test_the_round_trip_is_exact_on_the_fixture(db_url, tmp_path, ningxia, small) -> None:
    store = Store(db_url)
    try:
        store.publish_file(NINGXIA)
        for region in (COUNTY, CITY, PROVINCE):
            within = subtree(ningxia.regions, region)
            mine = {c: i for c, i in ningxia.implementations.items() if i.region in within}
            for fmt in ("xlsx", "csv"):
                path = exported(store, tmp_path, region, fmt)
                # decoded field for field: the sheet gives the very records it was written from
                sheet = read(path, fmt, small, region=region, out=tmp_path / "p.jsonl")  # type: ignore[arg-type]
                assert sheet.ok, sheet.findings[:3]
                assert implementations(tmp_path / "p.jsonl") == mine
                # and, in a workbook, the subtree's service points (issue 21)
                points = sorted(
                    (p for p in ningxia.service_points.values() if p.region in within),
                    key=lambda p: (p.region, p.id),
                )
                given = None if sheet.service_points is None else list(sheet.service_points.values())
                assert given == (None if fmt == "csv" else points)
                # published as the region's submission: nothing changes
                published, _ = publish_sheet(store, path, fmt, region=None if fmt == "xlsx" else region)  # type: ignore[arg-type]
                assert (published.added, published.changed, published.removed) == (0, 0, 0)
                assert store.versions()[-1].region == region
        assert store.catalog().implementations == ningxia.implementations
    finally:
        store.dispose()


def test_the_sheet_lists_the_subtree_then_template_rows_for_what_the_region_lacks(
    store, tmp_path, ningxia
) -> None:
    rows = cells(exported(store, tmp_path, COUNTY))[DATA_SHEET]
    mine = [i for i in ningxia.implementations.values() if i.region == COUNTY]
    lacking = [i for i in implementable(ningxia, COUNTY) if i.code not in {m.item for m in mine}]
    assert lacking and len(rows) == 1 + len(mine) + len(lacking)
    template = [r for r in rows[1:] if r[index("实施编码")] == ""]
    assert [r[index("事项编码")] for r in template] == [i.code for i in lacking]
    assert all(r[index("区划代码")] == COUNTY and r[index("材料按事项")] == "是" for r in template)
    assert all(r[index("承诺办结时限")] == "" and r[index("实施主体")] == "" for r in template)
    # codes stay text: a 12-digit item code keeps its leading zeros
    assert all(isinstance(r[index("事项编码")], str) and len(r[index("事项编码")]) == 12 for r in rows[1:])
    notes = cells(exported(store, tmp_path, COUNTY))[NOTES_SHEET]
    assert notes[1][:2] == ["格式", "onething-sheet/1"] and notes[2][:2] == ["区划", COUNTY]
    assert any("只减不增" in str(cell) for row in notes for cell in row)


def test_a_filled_template_row_adds_an_implementation_with_its_code_made(store, tmp_path, ningxia) -> None:
    path = exported(store, tmp_path, COUNTY)
    book = cells(path)
    rows = book[DATA_SHEET]
    row = next(r for n, r in enumerate(rows) if n and r[index("实施编码")] == "")
    uscc = ningxia.implementations[
        next(c for c, i in sorted(ningxia.implementations.items()) if i.region == COUNTY)
    ].agency.uscc
    row[index("实施主体")] = "兴庆区某局"
    row[index("统一社会信用代码")] = uscc
    for label, value in (("承诺办结时限", 1), ("到现场次数", 0), ("网办深度", 4)):
        row[index(label)] = value
    # and one implementation is removed: its row deleted
    gone = rows[1][index("实施编码")]
    del rows[1]
    published, _ = publish_sheet(store, workbook(tmp_path / "filled.xlsx", book), "xlsx")
    assert (published.added, published.changed, published.removed) == (1, 0, 1)
    item = row[index("事项编码")]
    added = store.implementation(store.revision(), uscc + "4" + item)
    assert added is not None and added[0].materials is None and added[0].agency == Agency("兴庆区某局", uscc)
    assert store.implementation(store.revision(), gone) is None


def test_materials_are_read_by_name_alias_or_id_and_a_requirement_id_may_be_left_out(
    store, tmp_path, ningxia
) -> None:
    code, impl = next(
        (c, i) for c, i in sorted(ningxia.implementations.items()) if i.region == COUNTY and i.materials
    )
    item = ningxia.items[impl.item]
    first = item.materials[0]
    material = ningxia.materials[first.any_of[0]]
    path = exported(store, tmp_path, COUNTY, "csv")
    rows = csv_rows(path)
    row = next(r for r in rows if r[index("实施编码")] == code)
    word = material.aliases[0] if material.aliases else material.id
    row[index("材料按事项") + 1 :] = [f"{word}【容缺】"] + [""] * (len(row) - index("材料按事项") - 2)
    published, _ = publish_sheet(store, write_csv(tmp_path / "edited.csv", rows), "csv", region=COUNTY)
    assert (published.added, published.changed, published.removed) == (0, 1, 0)
    now = store.implementation(store.revision(), code)[0]
    assert now.materials == [Requirement(req=first.req, any_of=[material.id], deferrable=True)]


NAME = st.text(st.sampled_from(list("兴庆区政务服务大厅窗口 abcXYZ019-()（）：／【】;,\"'=+#@")), max_size=30)
FREE = st.text(st.sampled_from(list("银川市金凤区 12号楼\t\n：，,\"=／'+-@")), max_size=40)
CODE = st.text(st.sampled_from(list("0123456789ABCDEFGHJKLMNPQRTUWXY")), min_size=1, max_size=31)


@st.composite
def requirement_lists(draw, ningxia: Catalog, item_code: str) -> list[Requirement] | None:
    item = ningxia.items[item_code]
    if draw(st.booleans()):
        return None
    chosen = (
        draw(st.lists(st.sampled_from(item.materials), unique_by=lambda r: r.req)) if item.materials else []
    )
    out = []
    for base in chosen:
        alternatives = draw(st.lists(st.sampled_from(base.any_of), unique=True)) if base.any_of else []
        when = {}
        if draw(st.booleans()):
            question = draw(st.sampled_from(sorted(ningxia.questions.values(), key=lambda q: q.id)))
            when = {
                question.id: draw(
                    st.lists(st.sampled_from(sorted(question.answers)), min_size=1, unique=True)
                )
            }
        out.append(
            Requirement(
                req=base.req,
                any_of=alternatives,
                optional=draw(st.booleans()),
                deferrable=draw(st.booleans()),
                when=when,
            )
        )
    return out


@st.composite
def generated(draw, ningxia: Catalog) -> Implementation:
    item = draw(st.sampled_from(sorted(ningxia.items)))
    return Implementation(
        code=draw(CODE),
        item=item,
        region=draw(st.sampled_from(sorted(subtree(ningxia.regions, CITY)))),
        agency=Agency(name=draw(NAME), uscc=draw(CODE)),
        name=draw(NAME),
        type=draw(st.sampled_from(sorted(ITEM_TYPES))),
        basis=draw(st.lists(NAME.filter(bool), max_size=3)),
        statutory_days=draw(st.integers(0, 3650)),
        promised_days=draw(st.integers(0, 3650)),
        visits=draw(st.integers(0, 5)),
        online_depth=draw(st.integers(1, 4)),
        materials=draw(requirement_lists(ningxia, item)),
        fee=draw(st.floats(0, 1e9) | st.sampled_from([0.0, 80.0, 0.1, 1 / 3, 12.5])),
        window=draw(NAME),
        address=draw(FREE),
        hours=draw(FREE),
        phone=draw(NAME),
        channels=draw(
            st.none() | st.lists(st.sampled_from(["window", "online", "app", "kiosk", "post"]), max_size=5)
        ),
    )


def test_any_implementation_reads_back_as_it_was_written(ningxia, small) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(generated(ningxia), min_size=1, max_size=6, unique_by=lambda i: i.code),
        st.sampled_from(["xlsx", "csv"]),
    )
    def check(impls: list[Implementation], fmt: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"s.{fmt}"
            write(path, fmt, CITY, small, impls)  # type: ignore[arg-type]
            sheet = read(path, fmt, small, region=CITY, out=Path(tmp) / "p.jsonl")  # type: ignore[arg-type]
            assert sheet.ok, sheet.findings[:3]
            assert implementations(Path(tmp) / "p.jsonl") == {i.code: i for i in impls}

    check()


def test_a_region_too_big_for_a_worksheet_is_refused_before_anything_is_written(
    ningxia, small, tmp_path
) -> None:
    impls = [i for _, i in sorted(ningxia.implementations.items()) if i.region == COUNTY]
    path = tmp_path / "big.xlsx"
    with pytest.raises(TooManyRows) as exc:
        write(path, "xlsx", COUNTY, small, impls, max_rows=10)
    assert exc.value.rows > 10 and not path.exists()
    write(tmp_path / "big.csv", "csv", COUNTY, small, impls, max_rows=10)  # a CSV has no such limit


# -- sheets that are not ours ----------------------------------------------------------------------


def test_a_workbook_without_the_implementation_worksheet_is_not_ours(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    path = workbook(tmp_path / "other.xlsx", {"Sheet1": book[DATA_SHEET], NOTES_SHEET: book[NOTES_SHEET]})
    (f,) = refused(store, path)
    assert f.rule == "SHEET" and f.sheet == DATA_SHEET and "没有名为“实施清单”的工作表" in f.message
    assert "Sheet1" in f.message


def test_a_changed_header_names_what_is_missing_and_what_is_unknown(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    book[DATA_SHEET][0][index("事项名称")] = "名称"
    (f,) = refused(store, workbook(tmp_path / "header.xlsx", book), region=COUNTY)
    assert (f.rule, f.sheet, f.row, f.column) == ("SHEET", DATA_SHEET, 1, None)
    assert "缺少列：事项名称" in f.message and f"{column('事项名称')} 列“名称”" in f.message


def test_a_csv_that_is_not_ours_names_its_missing_columns(store, tmp_path) -> None:
    path = write_csv(tmp_path / "x.csv", [["编号", "名称"], ["1", "某事项"]])
    (f,) = refused(store, path, "csv", COUNTY)
    assert f.rule == "SHEET" and f.row == 1 and f.sheet is None
    assert "缺少列：区划代码" in f.message and "不认识的列：A 列“编号”" in f.message


def test_a_file_that_is_no_workbook_is_refused(store, tmp_path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_bytes(b'{"kind":"catalog"}\n')
    (f,) = refused(store, path, region=COUNTY)
    assert f.rule == "SHEET" and "不是 Excel 工作簿" in f.message


def test_another_format_recorded_in_the_notes_is_not_ours(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    book[NOTES_SHEET][1][1] = "someone-elses/2"
    (f,) = refused(store, workbook(tmp_path / "format.xlsx", book))
    assert (f.sheet, f.row, f.column) == (NOTES_SHEET, 2, "B") and "someone-elses/2" in f.message


def test_a_sheet_of_another_region_cannot_replace_this_ones(store, tmp_path) -> None:
    path = exported(store, tmp_path, COUNTY)
    (f,) = refused(store, path, region=CITY)
    assert (f.rule, f.sheet, f.row, f.column) == ("SHEET", NOTES_SHEET, 3, "B")
    assert COUNTY in f.message and CITY in f.message


# -- merged cells and wrong types ------------------------------------------------------------------


def test_a_merged_cell_is_refused_where_it_is(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    first = index("受理窗口")
    path = workbook(tmp_path / "merged.xlsx", book, merged=((3, first, 4, first),))
    (f,) = refused(store, path)
    assert at(f) == ("SHEET", 4, "受理窗口")
    assert f"{column('受理窗口')}4:{column('受理窗口')}5" in f.message and "合并" in f.message


def test_a_number_in_a_text_column_is_a_wrong_type_at_its_cell(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    n = filled(book[DATA_SHEET])[1]
    row = book[DATA_SHEET][n]
    row[index("事项编码")] = float(
        row[index("事项编码")]
    )  # what Excel makes of 000100035000 in a General cell
    (f,) = refused(store, workbook(tmp_path / "number.xlsx", book))
    assert at(f) == ("SCHEMA", n + 1, "事项编码")
    assert "应为文本" in f.message and f.key == row[index("实施编码")]


def test_text_in_a_number_column_is_a_wrong_type_at_its_cell(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    n = filled(book[DATA_SHEET])[4]
    book[DATA_SHEET][n][index("承诺办结时限")] = "五天"
    (f,) = refused(store, workbook(tmp_path / "text.xlsx", book))
    assert (f.row, f.column, f.label) == (n + 1, column("承诺办结时限"), "承诺办结时限")
    assert "应为数字" in f.message and "五天" in f.message


def test_a_logical_value_a_fraction_and_a_number_out_of_range_are_each_refused(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    rows = book[DATA_SHEET]
    a, b, c = filled(rows)[:3]
    rows[a][index("受理窗口")] = True
    rows[b][index("到现场次数")] = 2.5
    rows[c][index("网办深度")] = 7
    found = refused(store, workbook(tmp_path / "types.xlsx", book))
    assert [(f.row, f.label) for f in found] == [
        (a + 1, "受理窗口"),
        (b + 1, "到现场次数"),
        (c + 1, "网办深度"),
    ]
    assert "逻辑值" in found[0].message and "整数" in found[1].message and "1 到 4" in found[2].message


def test_an_excel_mangled_code_in_a_csv_is_refused(store, tmp_path) -> None:
    rows = csv_rows(exported(store, tmp_path, COUNTY, "csv"))
    n = filled(rows)[0]
    rows[n][index("实施编码")] = "1.16401E+30"
    (f,) = refused(store, write_csv(tmp_path / "mangled.csv", rows), "csv", COUNTY)
    assert (f.row, f.column) == (n + 1, column("实施编码")) and "科学计数法" in f.message


def test_a_csv_saved_by_chinese_excel_in_gb18030_reads(store, tmp_path) -> None:
    rows = csv_rows(exported(store, tmp_path, COUNTY, "csv"))
    published, _ = publish_sheet(
        store, write_csv(tmp_path / "gbk.csv", rows, "gb18030"), "csv", region=COUNTY
    )
    assert (published.added, published.changed, published.removed) == (0, 0, 0)


def test_a_requirement_cell_it_cannot_read_is_refused_at_its_cell(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    rows = book[DATA_SHEET]
    number = next(n for n, r in enumerate(rows) if r[index("材料按事项")] == "否")
    rows[number][index("材料按事项") + 2] = rows[number][index("材料按事项") + 2] + "【加急】"
    (f,) = refused(store, workbook(tmp_path / "mark.xlsx", book))
    assert (f.row, f.column, f.label) == (number + 1, letter(index("材料按事项") + 2), "材料2")
    assert "【加急】" in f.message


def test_content_under_a_column_without_a_label_is_refused(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    rows = book[DATA_SHEET]
    n = filled(rows)[0]
    width = len(rows[0])
    rows[n].append("identity：居民身份证")  # typed right of the last labelled column
    (f,) = refused(store, workbook(tmp_path / "unlabelled.xlsx", book))
    assert (f.rule, f.row, f.column) == ("SHEET", n + 1, letter(width))
    assert f"材料{width - len(COLUMNS) + 1}" in f.message


def test_a_code_given_twice_is_a_duplicate_at_the_later_row(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    rows = book[DATA_SHEET]
    first = filled(rows)[0]
    rows.append(list(rows[first]))
    found = refused(store, workbook(tmp_path / "twice.xlsx", book))
    assert [(f.rule, f.row, f.column) for f in found] == [("DUPLICATE", len(rows), column("实施编码"))]


def test_materials_filled_while_marked_as_the_items_are_refused(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    rows = book[DATA_SHEET]
    number = next(
        n for n, r in enumerate(rows) if n and r[index("材料按事项")] == "是" and r[index("实施编码")]
    )
    rows[number][index("材料按事项") + 1] = "identity：居民身份证"
    (f,) = refused(store, workbook(tmp_path / "asitem.xlsx", book))
    assert (f.row, f.label) == (number + 1, "材料1") and "改为“否”" in f.message


# -- the store's findings, placed on the sheet ---------------------------------------------------------


def test_the_stores_findings_point_to_row_and_column(store, tmp_path, ningxia) -> None:
    book = cells(exported(store, tmp_path))
    rows = book[DATA_SHEET]
    a, b, c, d = filled(rows)[:4]
    rows[a][index("事项名称")] += "（兴庆）"  # FOUR_SAME_NAME
    rows[b][index("承诺办结时限")] = rows[b][index("法定办结时限")] + 1  # TIME_LIMIT
    rows[c][index("实施编码")] = rows[c][index("实施编码")][:-1] + "9"  # IMPL_CODE
    rows[d][index("统一社会信用代码")] = rows[d][index("统一社会信用代码")][:-1] + "0"  # USCC
    number = next(n for n in filled(rows) if n > d and rows[n][index("材料按事项")] == "否")
    rows[number][index("材料按事项") + 1] += "／身份证复印件"  # a material the dictionary lacks
    found = refused(store, workbook(tmp_path / "findings.xlsx", book))
    where = {(f.rule, f.row): (f.sheet, f.column, f.label) for f in found}
    assert where[("FOUR_SAME_NAME", a + 1)] == (DATA_SHEET, column("事项名称"), "事项名称")
    assert where[("TIME_LIMIT", b + 1)] == (DATA_SHEET, column("承诺办结时限"), "承诺办结时限")
    assert where[("IMPL_CODE", c + 1)] == (DATA_SHEET, column("实施编码"), "实施编码")
    assert where[("USCC", d + 1)] == (DATA_SHEET, column("统一社会信用代码"), "统一社会信用代码")
    material = [f for f in found if f.row == number + 1]
    assert material and all(
        (f.column, f.label) == (letter(index("材料按事项") + 1), "材料1") for f in material
    )
    assert {f.rule for f in material} <= {"MATERIAL_ADDED", "UNKNOWN_REF"}
    assert all(f.line == f.row for f in found)


def test_a_row_outside_the_regions_subtree_is_a_scope_finding_at_its_region(store, tmp_path) -> None:
    book = cells(exported(store, tmp_path))
    n = filled(book[DATA_SHEET])[2]
    book[DATA_SHEET][n][index("区划代码")] = OTHER_COUNTY
    (f,) = refused(store, workbook(tmp_path / "scope.xlsx", book))
    assert at(f) == ("SCOPE", n + 1, "区划代码")
    assert f.key == book[DATA_SHEET][n][index("实施编码")]


def test_the_command_line_publishes_and_exports_sheets(sqlite_url, tmp_path) -> None:
    assert onething("publish", str(NINGXIA), "--db", sqlite_url).returncode == 0
    out = tmp_path / "640104.xlsx"
    done = onething("export", "--db", sqlite_url, "--format", "xlsx", "--region", COUNTY, "--out", str(out))
    assert done.returncode == 0, done.stderr
    done = onething("publish", str(out), "--db", sqlite_url, "--json")
    assert done.returncode == 0, done.stderr
    assert msgspec.json.decode(done.stdout) == {
        "version": 2,
        "added": 0,
        "changed": 0,
        "removed": 0,
        "needs_review": 0,
    }
    csv_out = onething("export", "--db", sqlite_url, "--format", "csv", "--region", CITY)
    assert csv_out.returncode == 0 and csv_out.stdout.startswith("\ufeff区划代码,事项编码")
    book = cells(out)
    n = filled(book[DATA_SHEET])[0]
    book[DATA_SHEET][n][index("事项名称")] += "（改）"
    bad = workbook(tmp_path / "bad.xlsx", book)
    done = onething("publish", str(bad), "--db", sqlite_url, "--json")
    assert done.returncode == 1
    (f,) = msgspec.json.decode(done.stdout)["findings"]
    assert (f["rule"], f["sheet"], f["row"], f["column"], f["label"]) == (
        "FOUR_SAME_NAME",
        DATA_SHEET,
        n + 1,
        column("事项名称"),
        "事项名称",
    )
    done = onething("publish", str(bad), "--db", sqlite_url)
    assert done.returncode == 1 and f"{DATA_SHEET}!{column('事项名称')}{n + 1}（事项名称）" in done.stdout
    assert onething("export", "--db", sqlite_url, "--format", "xlsx", "--region", COUNTY).returncode == 2
    assert onething("export", "--db", sqlite_url, "--format", "csv").returncode == 2
    assert onething("export", "--db", sqlite_url, "--region", COUNTY).returncode == 2
    assert onething("export", "--db", sqlite_url, "--format", "csv", "--region", "999999").returncode == 2


# -- formula injection (issue 18, point 2) -----------------------------------------------------------

PAYLOADS = ('=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)", "\t=1", "\r=1")
TEXT_COLUMNS = ("受理窗口", "办理地点", "办公时间", "咨询电话", "实施主体")


def _plant(rows: list[list], at: list[int], payloads: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """The payloads in text cells of the rows `at` (one a row, cycling through the text columns):
    implementation code -> (column index, payload)."""
    planted = {}
    for n, payload in zip(at, payloads, strict=True):
        label = TEXT_COLUMNS[len(planted) % len(TEXT_COLUMNS)]
        rows[n][index(label)] = payload
        planted[rows[n][index("实施编码")]] = (index(label), payload)
    return planted


def _neutralised_in(rows: list[list], planted: dict[str, tuple[int, str]]) -> None:
    by_code = {r[index("实施编码")]: r for r in rows[1:] if len(r) > index("实施编码")}
    for code, (i, payload) in planted.items():
        assert by_code[code][i] == "'" + payload, (code, by_code[code][i])


def test_formula_payloads_come_back_neutralised_and_read_back_exactly(store, tmp_path, small) -> None:
    from catalog.sheet.formula import neutral, plain

    for text in (*PAYLOADS, "'", "'abc", "''=1", "'=1", "a=1", "", "居民身份证"):
        assert plain(neutral(text)) == text
    assert plain("'abc") == "'abc"  # a clerk's own quote stays
    fields = {"受理窗口": "window", "办理地点": "address", "办公时间": "hours", "咨询电话": "phone"}

    def stored(code: str, i: int) -> str:
        (impl,) = store.implementation(store.revision(), code)[:1]
        label = COLUMNS[i].label
        return impl.agency.name if label == "实施主体" else getattr(impl, fields[label])

    # every payload, written and read by the sheet alone (the store refuses a tab or a carriage
    # return in these fields, so those two cannot reach an export through it)
    impls = list(store.region_implementations(1, [COUNTY]))[: len(PAYLOADS)]
    impls = [msgspec.structs.replace(impl, window=p) for impl, p in zip(impls, PAYLOADS, strict=True)]
    for fmt in ("csv", "xlsx"):
        path = tmp_path / f"direct.{fmt}"
        write(path, fmt, CITY, small, impls)  # type: ignore[arg-type]
        rows = csv_rows(path) if fmt == "csv" else cells(path)[DATA_SHEET]
        _neutralised_in(rows, {impl.code: (index("受理窗口"), impl.window) for impl in impls})
        sheet = read(path, fmt, small, region=CITY, out=tmp_path / "p.jsonl")  # type: ignore[arg-type]
        assert sheet.ok, sheet.findings[:3]
        lines = (tmp_path / "p.jsonl").read_bytes().splitlines()[1:]  # the loader would drop \t and \r
        back = [msgspec.json.decode(line, type=Implementation) for line in lines if line]
        assert back == impls
    # through the store, from a CSV
    publishable = PAYLOADS[:5]
    rows = csv_rows(exported(store, tmp_path, COUNTY, "csv"))
    planted = _plant(rows, filled(rows)[: len(publishable)], publishable)
    published, _ = publish_sheet(store, write_csv(tmp_path / "in.csv", rows), "csv", region=COUNTY)
    assert published.changed == len(publishable)
    assert all(stored(code, i) == payload for code, (i, payload) in planted.items())
    _neutralised_in(csv_rows(exported(store, tmp_path, COUNTY, "csv")), planted)
    _neutralised_in(cells(exported(store, tmp_path, COUNTY, "xlsx"))[DATA_SHEET], planted)
    for fmt in ("csv", "xlsx"):  # each export read back is the very same list
        path = exported(store, tmp_path, COUNTY, fmt)
        again, _ = publish_sheet(store, path, fmt, region=COUNTY)  # type: ignore[arg-type]
        assert (again.added, again.changed, again.removed) == (0, 0, 0)
    # through an .xlsx, the payloads typed as they are (text cells, no quote)
    book = cells(exported(store, tmp_path))
    rows = book[DATA_SHEET]
    for row in rows[1:]:  # the export's quotes undone: the sheet as a clerk pasting payloads has it
        row[:] = [plain(v) if isinstance(v, str) else v for v in row]
    planted = _plant(rows, filled(rows)[len(publishable) : 2 * len(publishable)], publishable)
    published, _ = publish_sheet(store, workbook(tmp_path / "in.xlsx", book), "xlsx")
    assert published.changed == len(publishable)
    assert all(stored(code, i) == payload for code, (i, payload) in planted.items())
    _neutralised_in(cells(exported(store, tmp_path, COUNTY, "xlsx"))[DATA_SHEET], planted)
    _neutralised_in(csv_rows(exported(store, tmp_path, COUNTY, "csv")), planted)


# -- materials and situations by name, with drop-downs (issue 17, point 5) -----------------------------


def test_requirement_cells_name_materials_and_situations_in_words_with_a_drop_down(
    store, tmp_path, ningxia
) -> None:
    import re
    import zipfile

    from catalog.sheet.notation import marks

    path = exported(store, tmp_path, "640000")
    rows = cells(path)[DATA_SHEET]
    written = {c for r in rows[1:] for c in r[len(COLUMNS) :] if c}
    assert written
    for cell in written:  # no requirement id in front, no question or answer id in a situation
        head, _, flags = cell.partition("【")
        assert "：" not in head, cell
        assert not re.search(r"[A-Za-z_]", flags), cell
    situations = [c for c in written if "【情形：" in c]
    assert situations
    texts = {q.text for q in ningxia.questions.values()}
    assert all(c.split("【情形：")[1].split("=")[0] in texts for c in situations)
    # the old notation, ids and all, still reads: a requirement cell with a situation rewritten so
    book = cells(path)
    data = book[DATA_SHEET]
    n, j = next(
        (n, j)
        for n in filled(data)
        for j in range(len(COLUMNS), len(data[n]))
        if isinstance(data[n][j], str) and "【情形：" in data[n][j]
    )
    code = data[n][index("实施编码")]
    (impl,) = [i for i in ningxia.implementations.values() if i.code == code]
    requirement = impl.materials[j - len(COLUMNS)]
    data[n][j] = requirement.req + "：" + "／".join(requirement.any_of) + marks(requirement)  # ids
    assert "=" in data[n][j] and data[n][j].isascii() is False
    again, _ = publish_sheet(store, workbook(tmp_path / "old.xlsx", book), "xlsx")
    assert (again.added, again.changed, again.removed) == (0, 0, 0)
    # a drop-down on the requirement columns, its list on a hidden worksheet
    with zipfile.ZipFile(path) as z:
        book_xml = z.read("xl/workbook.xml").decode()
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
        hidden = re.search(r'<sheet name="选项" sheetId="\d+" state="hidden" r:id="(rId\d+)"/>', book_xml)
        assert hidden, book_xml
        listed = re.search(
            r'<dataValidation type="list"[^>]*sqref="([A-Z]+)2:([A-Z]+)1048576"[^>]*>'
            r"<formula1>'选项'!\$A\$2:\$A\$(\d+)</formula1>",
            sheet_xml,
        )
        assert listed, sheet_xml[-2000:]
        assert listed.group(1) == letter(len(COLUMNS))
    choices = [c for c in cells(path)["选项"][1:] for c in c if c]
    assert len(choices) == int(listed.group(3)) - 1
    assert written <= set(choices)
    assert {m.name for m in ningxia.materials.values()} <= set(choices)
