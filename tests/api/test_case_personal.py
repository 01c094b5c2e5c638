"""Personal data (§7.5) and the operator's side of cases, on SQLite and PostgreSQL: who reads
the applicant and the form (and the audit lines they leave), purge, the calendar's added
years and the recount of provisional dues, agency tokens, the key."""

from __future__ import annotations

import json
from datetime import date

import pytest

from catalog.codes import uscc_check_char
from tests.api.case_helpers import POLICE, case_api, finish, recounted, stored_counters, task_of
from tests.conftest import onething

OUTSIDER = "91640104MA0000001" + uscc_check_char("91640104MA0000001")
POLICE_FIELDS = {
    "father.name",
    "father.id_number",
    "mother.name",
    "mother.id_number",
    "child.name",
    "child.sex",
    "child.birth_date",
    "household.address",
}


@pytest.fixture
def c(db_url, monkeypatch):
    with case_api(db_url, monkeypatch) as api:
        yield api


def test_who_reads_personal_data_and_the_audit_lines_they_leave(c):
    case = c.hand_in().json()
    cid = case["id"]
    outsider = c.api.store.create_token("agency-outside", "agency", agency=OUTSIDER)
    before = len(c.audit())

    applicant = c.read(cid, case["access"]).json()
    assert applicant["applicant"]["id_number"] == "640104199003071316"
    assert applicant["form"]["mother.name"] == "李四" and applicant["form"]["applicant.name"] == "张三"

    police = c.api.client.get(f"/cases/{cid}", headers=c.as_agency("police")).json()
    assert "applicant" not in police
    item_fields = set(c.api.store.dictionaries(1).items["000700104000"].fields)
    assert set(police["form"]) == item_fields & set(applicant["form"])
    assert "bank.account" not in police["form"]
    assert [t["agency"] for t in police["tasks"]] == [POLICE]  # its own task only

    r = c.api.client.get(f"/cases/{cid}", headers={"Authorization": f"Bearer {outsider}"})
    assert r.status_code == 404
    for role in ("portal", "designer", "reviewer"):
        seen = c.api.get(f"/cases/{cid}", role=role).json()
        assert "applicant" not in seen and "form" not in seen and len(seen["tasks"]) == 9
    admin = c.api.get(f"/cases/{cid}", role="admin").json()
    assert admin["applicant"]["name"] == "张三" and admin["form"] == applicant["form"]
    assert c.api.client.get(f"/cases/{cid}").status_code == 401
    assert c.read(cid, "wrong-code").status_code == 403

    lines = c.audit()[: len(c.audit()) - before]
    got = sorted((e.by, e.detail["role"], e.target) for e in lines)
    assert got == sorted(
        [("applicant", "applicant", cid), ("agency-police", "agency", cid), ("test-admin", "admin", cid)]
    )
    police_line = next(e for e in lines if e.by == "agency-police")
    assert set(police_line.detail["fields"]) == set(police["form"])
    # the queue shows each task's fields, and is audited too
    c.api.client.get(f"/agencies/{POLICE}/tasks?state=waiting", headers=c.as_agency("police"))
    assert c.audit()[0].by == "agency-police" and c.audit()[0].target == cid


def test_personal_data_is_stored_sealed(c):
    import sqlalchemy as sa

    from catalog.store.schema import CaseRow

    case = c.hand_in().json()
    with c.api.store.engine.connect() as conn:
        row = conn.execute(
            sa.select(CaseRow.sealed, CaseRow.body, CaseRow.access).where(CaseRow.id == case["id"])
        ).one()
    assert "张三".encode() not in row.sealed and b"640104199003071316" not in row.sealed
    assert "张三" not in row.body and case["access"] not in row.access


def test_purge_erases_personal_data_of_ended_cases_and_keeps_the_figures(c, db_url):
    ended = c.hand_in().json()
    still_open = c.hand_in().json()
    finish(c, ended["id"], ended["access"])
    c.api.client.post(
        f"/cases/{ended['id']}/rating", json={"score": 4}, headers={"X-Case-Access": ended["access"]}
    )
    figures = c.api.client.get("/stats/cases").json()
    r = onething("cases", "purge", "--before", "2026-12-04", "--db", db_url)
    assert r.returncode == 0 and "0 case" in r.stdout  # ended on the 4th: not before it
    r = onething("cases", "purge", "--before", "2026-12-05", "--db", db_url)
    assert r.returncode == 0 and "1 case" in r.stdout, r.stderr
    before = len(c.audit())
    purged = c.api.get(f"/cases/{ended['id']}", role="admin").json()
    assert "applicant" not in purged and "form" not in purged and purged["state"] == "done"
    assert len(c.audit()) == before  # nothing was read, nothing audited
    assert c.read(still_open["id"], still_open["access"]).json()["applicant"]["name"] == "张三"
    assert c.api.client.get("/stats/cases").json() == figures
    assert c.audit("case.purge")[0].detail == {"cases": 1}


def test_provisional_dues_in_2027_and_the_recount_when_its_schedule_is_added(c, db_url, tmp_path):
    c.clock.today = date(2026, 12, 28)
    case = c.hand_in().json()
    cid, access = case["id"], case["access"]
    assert case["due"] == "2027-01-04" and case["due_provisional"] is True
    c.clock.today = date(2026, 12, 31)
    first = c.event(task_of(case, 1)["id"], "accept", "health").json()
    assert first["due"] == "2027-01-01" and first["due_provisional"] is True  # a Friday, counted as worked
    finish(c, cid, access)
    r = c.api.client.post(f"/cases/{cid}/rating", json={"score": 1}, headers={"X-Case-Access": access})
    rect = r.json()["rectifications"][0]
    assert rect["due_provisional"] is True and rect["due"] == "2027-01-21"

    schedule = tmp_path / "2027.json"
    schedule.write_text(
        json.dumps(
            {
                "year": 2027,
                "holidays": ["2027-01-01", "2027-01-02", "2027-01-03"],
                "workdays": [],
                "source": "test schedule",
            }
        )
    )
    r = onething("cases", "calendar", "add", str(schedule), "--db", db_url)
    assert r.returncode == 0, r.stderr
    assert "counted again" in r.stdout
    c.api.client.app.state.cases.forget_calendar()
    again = c.read(cid, access).json()
    assert again["due"] == "2027-01-05" and "due_provisional" not in again
    assert task_of(again, 1)["due"] == "2027-01-04" and "due_provisional" not in task_of(again, 1)
    rect = c.api.get("/rectifications", role="admin").json()["rectifications"][0]
    assert rect["due"] == "2027-01-22" and "due_provisional" not in rect
    assert stored_counters(c) == recounted(c)  # the overdue rows moved with it
    assert onething("cases", "calendar", "list", "--db", db_url).stdout.startswith("2027\t3 holidays")
    # a hand-in now counts on the added year at once
    c.clock.today = date(2026, 12, 28)
    assert c.hand_in().json()["due"] == "2027-01-05"


def test_a_bad_schedule_file_is_refused_with_what_is_wrong(tmp_path, sqlite_url):
    bad = tmp_path / "2027.json"
    bad.write_text(json.dumps({"year": 2027, "holidays": ["2026-12-31"]}))
    r = onething("cases", "calendar", "add", str(bad), "--db", sqlite_url)
    assert r.returncode == 2 and "2026-12-31" in r.stderr


def test_a_year_arriving_in_the_calendar_directory_counts_dues_again(sqlite_url, monkeypatch, tmp_path):
    with case_api(sqlite_url, monkeypatch, calendar_dir=str(tmp_path)) as c:
        c.clock.today = date(2026, 12, 28)
        case = c.hand_in().json()
        assert case["due_provisional"] is True
        (tmp_path / "2027.json").write_text(json.dumps({"year": 2027, "holidays": ["2027-01-01"]}))
        c.api.client.app.state.cases.forget_calendar()
        assert c.hand_in().json()["due"] == "2027-01-05"  # the new year counts at once …
        again = c.read(case["id"], case["access"]).json()  # … and the earlier due is counted again
        assert again["due"] == "2027-01-05" and "due_provisional" not in again


def test_agency_tokens_from_the_command_line(sqlite_url):
    r = onething(
        "token", "create", "--role", "agency", "--agency", POLICE, "--name", "police", "--db", sqlite_url
    )
    assert r.returncode == 0 and len(r.stdout.strip()) > 30, r.stderr
    r = onething("token", "create", "--role", "agency", "--name", "x", "--db", sqlite_url)
    assert r.returncode == 2 and "--agency" in r.stderr
    r = onething(
        "token",
        "create",
        "--role",
        "agency",
        "--agency",
        POLICE[:-1] + "0",
        "--name",
        "x",
        "--db",
        sqlite_url,
    )
    assert r.returncode == 2 and "校验码" in r.stderr
    r = onething("token", "create", "--role", "portal", "--agency", POLICE, "--name", "x", "--db", sqlite_url)
    assert r.returncode == 2


def test_without_a_key_no_case_is_taken(sqlite_url, monkeypatch):
    from api.settings import Settings
    from tests.api.case_helpers import newborn
    from tests.api.conftest import running
    from tests.conftest import NINGXIA

    monkeypatch.delenv("ONETHING_CASE_KEY", raising=False)
    monkeypatch.delenv("ONETHING_CASE_KEY_FILE", raising=False)
    with running(Settings(db_url=sqlite_url, token_ttl=0)) as api:
        api.store.publish_file(NINGXIA)
        r = api.post("/cases", role=None, json=newborn())
        assert r.status_code == 503 and r.json()["code"] == "CASE_KEY_MISSING"


def test_a_key_file_made_by_keygen_is_owner_only_and_works(tmp_path, sqlite_url, monkeypatch):
    key = tmp_path / "case.key"
    assert onething("cases", "keygen", str(key)).returncode == 0
    assert key.stat().st_mode & 0o777 == 0o600
    first = key.read_text()
    assert (
        onething("cases", "keygen", str(key)).returncode == 0 and key.read_text() == first
    )  # never overwritten
    from catalog.store.cases import Sealer

    sealer = Sealer.from_env({"ONETHING_CASE_KEY_FILE": str(key)})
    assert sealer.open(sealer.seal(b"x", "case-1"), "case-1") == b"x"


def test_openapi_declares_the_case_routes_and_their_problems(c):
    schema = c.api.client.get("/schema/openapi.json").json()
    paths = schema["paths"]
    assert "422" in paths["/cases"]["post"]["responses"] and "201" in paths["/cases"]["post"]["responses"]
    assert "409" in paths["/tasks/{task_id}/events"]["post"]["responses"]
    assert "409" in paths["/cases/{case_id}/rating"]["post"]["responses"]
    assert "409" in paths["/rectifications/{rid}/close"]["post"]["responses"]
    params = {p["name"] for p in paths["/cases/{case_id}"]["get"]["parameters"]}
    assert "X-Case-Access" in params
    assert {"region", "bundle", "item", "agency", "from", "to"} <= {
        p["name"] for p in paths["/stats/cases"]["get"]["parameters"]
    }
