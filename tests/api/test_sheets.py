"""A region's sheet through the API on SQLite and PostgreSQL: downloaded as .xlsx or .csv (with
its filename, ETag and 304), sent back to the region's publish route or held as a submission,
its findings at worksheet, row and column (422 problem details), and nothing changed when it
is refused or out of the token's region."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from catalog.sheet import DATA_SHEET, MEDIA_TYPES, NOTES_SHEET
from catalog.sheet.columns import POINT_COLUMNS, POINTS_SHEET
from tests.catalog.sheets import cells, column, csv_rows, index, workbook, write_csv

from .conftest import Api
from .test_lifecycle import scoped

COUNTY, OTHER, CITY = "640104", "640105", "640100"
XLSX = {"Content-Type": MEDIA_TYPES["xlsx"]}
CSV = {"Content-Type": "text/csv"}


def download(api: Api, tmp_path: Path, region: str = COUNTY, fmt: str = "xlsx") -> Path:
    r = api.get(f"/regions/{region}/implementations/sheet?format={fmt}")
    assert r.status_code == 200, r.text
    path = tmp_path / f"{region}.{fmt}"
    path.write_bytes(r.content)
    return path


def implementation_row(rows: list[list]) -> int:
    return next(n for n, r in enumerate(rows) if n and r[index("实施编码")])


def test_a_region_sheet_downloads_as_xlsx_or_csv(api: Api) -> None:
    r = api.get(f"/regions/{COUNTY}/implementations/sheet")
    assert r.status_code == 200 and r.headers["content-type"] == MEDIA_TYPES["xlsx"]
    assert r.content.startswith(b"PK\x03\x04")
    name = quote(f"实施清单-{COUNTY}-v1.xlsx")
    assert r.headers["content-disposition"] == (
        f"attachment; filename=\"sheet-{COUNTY}-v1.xlsx\"; filename*=UTF-8''{name}"
    )
    again = api.get(f"/regions/{COUNTY}/implementations/sheet", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    r = api.get(f"/regions/{CITY}/implementations/sheet?format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff区划代码,事项编码".encode())
    assert r.headers["etag"] != again.headers["etag"]
    assert api.get("/regions/999999/implementations/sheet").status_code == 404
    assert api.get(f"/regions/{COUNTY}/implementations/sheet?format=xls").status_code == 400
    assert api.get(f"/regions/{COUNTY}/implementations/sheet", role=None).status_code == 401


def test_a_filled_sheet_publishes_as_the_regions_list(api: Api, tmp_path: Path) -> None:
    book = cells(download(api, tmp_path))
    n = implementation_row(book[DATA_SHEET])
    book[DATA_SHEET][n][index("承诺办结时限")] = 1
    body = workbook(tmp_path / "filled.xlsx", book).read_bytes()
    r = api.put(f"/regions/{COUNTY}/implementations?note=表格", content=body, headers=XLSX, role="reviewer")
    assert r.status_code == 200, r.text
    assert (r.json()["revision"], r.json()["added"], r.json()["changed"], r.json()["removed"]) == (2, 0, 1, 0)
    code = book[DATA_SHEET][n][index("实施编码")]
    assert api.store.implementation(2, code)[0].promised_days == 1
    assert api.store.versions()[-1].region == COUNTY
    # the CSV of the same region, unchanged, publishes nothing new
    path = download(api, tmp_path, COUNTY, "csv")
    r = api.put(f"/regions/{COUNTY}/implementations", content=path.read_bytes(), headers=CSV, role="reviewer")
    assert r.status_code == 200 and (r.json()["added"], r.json()["changed"], r.json()["removed"]) == (0, 0, 0)


def test_a_bad_sheet_is_422_with_its_cells_and_changes_nothing(api: Api, tmp_path: Path) -> None:
    book = cells(download(api, tmp_path))
    n = implementation_row(book[DATA_SHEET])
    book[DATA_SHEET][n][index("到现场次数")] = "一次"
    path = workbook(tmp_path / "bad.xlsx", book, merged=((n, index("受理窗口"), n, index("办理地点")),))
    r = api.put(
        f"/regions/{COUNTY}/implementations", content=path.read_bytes(), headers=XLSX, role="reviewer"
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["code"] == "INVALID_SHEET"
    (merged,) = problem["errors"]  # merged cells stop the reading: the cell types are not looked at
    assert (merged["sheet"], merged["row"], merged["column"], merged["field"]) == (
        DATA_SHEET,
        n + 1,
        column("受理窗口"),
        "受理窗口",
    )
    path = workbook(tmp_path / "type.xlsx", book)
    r = api.put(
        f"/regions/{COUNTY}/implementations", content=path.read_bytes(), headers=XLSX, role="reviewer"
    )
    (wrong,) = r.json()["errors"]
    assert (wrong["sheet"], wrong["row"], wrong["column"], wrong["rule"]) == (
        DATA_SHEET,
        n + 1,
        column("到现场次数"),
        "SCHEMA",
    )
    assert "一次" in wrong["message"]
    assert api.store.revision() == 1


def test_the_stores_findings_come_back_at_their_cells(api: Api, tmp_path: Path) -> None:
    rows = csv_rows(download(api, tmp_path, COUNTY, "csv"))
    n = implementation_row(rows)
    rows[n][index("事项名称")] += "（兴庆）"
    body = write_csv(tmp_path / "renamed.csv", rows).read_bytes()
    r = api.put(f"/regions/{COUNTY}/implementations", content=body, headers=CSV, role="reviewer")
    assert r.status_code == 422 and r.json()["code"] == "INVALID_CATALOG"
    (found,) = r.json()["errors"]
    assert (
        found["rule"],
        found.get("sheet"),
        found["row"],
        found["column"],
        found["field"],
        found["line"],
    ) == (
        "FOUR_SAME_NAME",
        None,  # a CSV has no worksheets
        n + 1,
        column("事项名称"),
        "事项名称",
        n + 1,
    )
    assert api.store.revision() == 1


def test_a_sheet_is_held_as_a_submission_with_its_findings_at_their_cells(api: Api, tmp_path: Path) -> None:
    book = cells(download(api, tmp_path))
    n = implementation_row(book[DATA_SHEET])
    book[DATA_SHEET][n][index("承诺办结时限")] = 999
    body = workbook(tmp_path / "slow.xlsx", book).read_bytes()
    r = api.post("/submissions?note=表格", content=body, headers=XLSX, role="reviewer")  # region: the sheet's
    assert r.status_code == 201, r.text
    held = r.json()
    assert held["region"] == COUNTY and held["refused"] is True and held["state"] == "pending"
    (found,) = held["findings"]
    assert (found["rule"], found["sheet"], found["row"], found["column"], found["label"]) == (
        "TIME_LIMIT",
        DATA_SHEET,
        n + 1,
        column("承诺办结时限"),
        "承诺办结时限",
    )
    # the held file is the sheet's JSON Lines submission: line n is row n
    raw = api.get(f"/submissions/{held['id']}/file", role="reviewer").content.split(b"\n")
    assert b'"promised_days":999' in raw[n]
    assert api.store.revision() == 1
    # a CSV says no region: it needs one
    rows = csv_rows(download(api, tmp_path, COUNTY, "csv"))
    r = api.post(
        "/submissions", content=write_csv(tmp_path / "x.csv", rows).read_bytes(), headers=CSV, role="reviewer"
    )
    assert r.status_code == 422 and r.json()["code"] == "INVALID_SHEET"
    r = api.post(
        f"/submissions?region={COUNTY}",
        content=(tmp_path / "x.csv").read_bytes(),
        headers=CSV,
        role="reviewer",
    )
    assert r.status_code == 201 and r.json()["refused"] is False


def test_a_region_token_cannot_send_another_regions_sheet(api: Api, tmp_path: Path) -> None:
    other = scoped(api, "西夏区审查员", "reviewer", OTHER)
    body = download(api, tmp_path).read_bytes()
    r = api.client.put(f"/regions/{COUNTY}/implementations", content=body, headers={**other, **XLSX})
    assert r.status_code == 403
    r = api.client.post("/submissions", content=body, headers={**other, **XLSX})  # its 说明 says 640104
    assert r.status_code == 403
    # its own region's route, with another region's sheet: the sheet says whose it is
    r = api.client.put(f"/regions/{OTHER}/implementations", content=body, headers={**other, **XLSX})
    assert r.status_code == 422 and r.json()["errors"][0]["sheet"] == NOTES_SHEET
    assert api.store.revision() == 1 and api.store.submissions()[0] == 0


def test_a_whole_catalog_is_never_a_sheet(api: Api, tmp_path: Path) -> None:
    body = download(api, tmp_path).read_bytes()
    r = api.put("/catalog", content=body, headers=XLSX, role="reviewer")
    assert r.status_code == 415 and r.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_a_sheet_bomb_from_a_county_reviewer_is_422_invalid_sheet_and_changes_nothing(
    api: Api, tmp_path: Path
) -> None:
    """Issue 18 point 1 through the API: a million rows and 2 GiB of whitespace, sent by a county's
    reviewer to both routes, are INVALID_SHEET with the reason in Chinese; nothing is published
    and nothing is held. (Memory is measured in tests/catalog/test_sheet_bounds.py.)"""
    from tests.catalog import bombs

    county = scoped(api, "兴庆区审查员", "reviewer", COUNTY)
    for path, words in (
        (bombs.rows(tmp_path / "rows.xlsx"), "100,000 行"),
        (bombs.whitespace(tmp_path / "whitespace.xlsx"), "解压后"),
    ):
        body = path.read_bytes()
        for method, url in (("PUT", f"/regions/{COUNTY}/implementations"), ("POST", "/submissions")):
            r = api.client.request(method, url, content=body, headers={**county, **XLSX})
            assert r.status_code == 422, r.text
            problem = r.json()
            assert problem["code"] == "INVALID_SHEET"
            (found,) = problem["errors"]
            assert found["rule"] == "SHEET" and words in found["message"]
    rows = "\r\n".join(["1"] * 1_048_576).encode()
    r = api.client.put(f"/regions/{COUNTY}/implementations", content=rows, headers={**county, **CSV})
    assert r.status_code == 422 and r.json()["code"] == "INVALID_SHEET"
    assert "100,000 行" in r.json()["errors"][0]["message"]
    assert api.store.revision() == 1 and api.store.submissions()[0] == 0


def test_channels_and_service_points_travel_in_the_regions_workbook(api: Api, tmp_path: Path) -> None:
    book = cells(download(api, tmp_path))
    points = book[POINTS_SHEET]
    labels = [c.label for c in POINT_COLUMNS]
    assert points[0][: len(labels)] == labels and len(points) == 1  # the small catalog has no point
    n = implementation_row(book[DATA_SHEET])
    book[DATA_SHEET][n][index("办理渠道")] = "线下窗口、掌上办理"

    def put(name: str) -> Any:
        body = workbook(tmp_path / name, book).read_bytes()
        return api.put(f"/regions/{COUNTY}/implementations", content=body, headers=XLSX, role="reviewer")

    point = ["", "", ""] + [""] * (len(points[0]) - 3)
    point[:3] = ["640104-hall", "兴庆区政务服务中心", OTHER]
    points.append(point)
    r = put("elsewhere.xlsx")  # a point in another county: refused at its cell
    assert r.status_code == 422, r.text
    (wrong,) = r.json()["errors"]
    assert (wrong["sheet"], wrong["row"], wrong["column"], wrong["field"]) == (
        POINTS_SHEET,
        2,
        "C",
        "所在区划",
    )
    point[2] = COUNTY
    r = put("new-point.xlsx")  # a new point: a partial carries implementations only, so refused
    assert r.status_code == 422, r.text
    (wrong,) = r.json()["errors"]
    assert (wrong["sheet"], wrong["row"]) == (POINTS_SHEET, 2) and "兴庆区政务服务中心" in wrong["message"]
    assert api.store.revision() == 1
    points.pop()
    r = put("channels.xlsx")
    assert r.status_code == 200 and (r.json()["changed"], r.json()["revision"]) == (1, 2), r.text
    code = book[DATA_SHEET][n][index("实施编码")]
    assert api.store.implementation(2, code)[0].channels == ["window", "app"]
