"""Shared by the case tests: the Ningxia catalog's 新生儿出生一件事 in 兴庆区, valid IDs, a clock."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from api.settings import Settings
from casework.fields import id_check_character
from catalog.store import Store
from catalog.store.cases import Sealer
from tests.api.conftest import Api, running
from tests.conftest import NINGXIA

HEALTH = "11640104036401041P"  # 兴庆区卫生健康局: 生育登记, 出生医学证明, 预防接种, 育儿指导
INSURANCE = "11640104056401049L"  # 兴庆区医疗保障局: 生育医疗费用报销, 参保登记
POLICE = "11640104026401048B"  # 兴庆区公安分局: 出生登记 (户口)
SOCIAL = "11640100046401002Y"  # 银川市人社局: 社会保障卡
TAX = "11640104076401046F"  # 兴庆区税务局: 医保费申报
AGENCIES = {"health": HEALTH, "insurance": INSURANCE, "police": POLICE, "social": SOCIAL, "tax": TAX}


def resident_id(birth: str = "19900307", serial: str = "123") -> str:
    first = "640104" + birth + serial
    return first + id_check_character(first)


MOTHER = resident_id("19920415", "244")
FATHER = resident_id("19900307", "131")

NEWBORN: dict[str, Any] = {
    "bundle": "newborn",
    "region": "640104",
    "answers": {"wants-social-card": "yes"},
    "channel": "window",
    "service_point": "640104-hall",
    "applicant": {"name": "张三", "id_number": FATHER, "phone": "13800000000"},
    "form": {
        "mother.name": "李四",
        "mother.id_number": MOTHER,
        "father.name": "张三",
        "father.id_number": FATHER,
        "child.name": "张小宝",
        "child.sex": "男",
        "child.birth_date": "2026-11-30",
        "child.birth_place": "银川市妇幼保健院",
        "bank.name": "宁夏银行",
        "bank.account": "6200000000000001",
        "household.address": "银川市兴庆区解放东街1号",
        "applicant.address": "银川市兴庆区解放东街1号",
    },
    "materials": {"delivery-record": "handed", "medical-invoice": "handed", "bank-card": "handed"},
    "consent": True,
}


def newborn(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(NEWBORN)
    body.update(changes)
    return body


@dataclass
class Clock:
    today: date = date(2026, 12, 4)

    def __call__(self) -> date:
        return self.today


@dataclass
class CaseApi:
    api: Api
    clock: Clock
    agency: dict[str, str] = field(default_factory=dict)
    """name → token of an agency role bound to that agency."""

    def as_agency(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.agency[name]}"}

    def hand_in(self, body: dict[str, Any] | None = None, role: str | None = None):
        return self.api.post("/cases", role=role, json=body or newborn())

    def event(self, task: str, event: str, who: str, key: str | None = None, **body: Any):
        payload = {"event": event, "key": key or f"{task}-{event}-{self.clock.today}", **body}
        return self.api.client.post(f"/tasks/{task}/events", json=payload, headers=self.as_agency(who))

    def read(self, case_id: str, access: str):
        return self.api.client.get(f"/cases/{case_id}", headers={"X-Case-Access": access})

    def audit(self, action: str = "case.personal") -> list[Any]:
        return self.api.store.audit(action=action, limit=1000)[1]


@contextmanager
def case_api(
    db_url: str, monkeypatch: Any, calendar_dir: str | None = None, nats_url: str | None = None
) -> Iterator[CaseApi]:
    """The cases API: the Ningxia catalog, one token per agency, a fixed clock; tasks pushed to
    `nats_url` where one is given."""
    monkeypatch.setenv("ONETHING_CASE_KEY", Sealer.new_key())
    if calendar_dir is not None:
        monkeypatch.setenv("ONETHING_CALENDAR_DIR", calendar_dir)
    with running(Settings(db_url=db_url, token_ttl=0, nats_url=nats_url)) as api:
        api.store.publish_file(NINGXIA)
        clock = Clock()
        api.client.app.state.cases.clock = clock
        agency = {
            name: api.store.create_token(f"agency-{name}", "agency", agency=uscc)
            for name, uscc in AGENCIES.items()
        }
        yield CaseApi(api, clock, agency)


BY_USCC = {uscc: name for name, uscc in AGENCIES.items()}


def outputs_of(c: CaseApi, item: str) -> dict[str, str]:
    catalog = c.api.store.dictionaries(c.api.store.revision())
    return {m: f"{m}-No.{abs(hash(item)) % 10000}" for m in catalog.items[item].outputs}


def task_of(case: dict[str, Any], n: int) -> dict[str, Any]:
    return next(t for t in case["tasks"] if t["id"].endswith(f"-{n}"))


def finish(c: CaseApi, case_id: str, access: str, *, skip: set[str] = frozenset()) -> dict[str, Any]:
    """Accept and approve every ready task (except those of `skip` items) until none is left."""
    while True:
        case = c.read(case_id, access).json()
        ready = [t for t in case["tasks"] if t["state"] in ("ready", "accepted") and t["item"] not in skip]
        if not ready:
            return case
        for t in ready:
            who = BY_USCC[t["agency"]]
            if t["state"] == "ready":
                assert c.event(t["id"], "accept", who).status_code == 200
            r = c.event(t["id"], "approve", who, outputs=outputs_of(c, t["item"]))
            assert r.status_code == 200, r.text


def _entries(table_rows: Any, keys: tuple[str, ...], counters: tuple[str, ...]) -> dict[Any, int]:
    """Rows of a counter table as {(key, counter): n}, zeros left out."""
    out = {}
    for row in table_rows:
        for i, column in enumerate(counters):
            if row[len(keys) + i]:
                out[tuple(row[: len(keys)]), column] = row[len(keys) + i]
    return out


def stored_counters(c: CaseApi | Store) -> tuple[dict[Any, int], ...]:
    """The counter tables (cases' and rectifications') as they are, non-zero entries only."""
    import sqlalchemy as sa

    from catalog.store.case_figures import RECTIFICATION_TABLES, TABLES

    store = c.api.store if isinstance(c, CaseApi) else c
    with store.engine.connect() as conn:
        return tuple(
            _entries(conn.execute(sa.select(*[table.c[k] for k in (*keys, *counters)])).all(), keys, counters)
            for table, keys, counters in (*TABLES, *RECTIFICATION_TABLES)
        )


def recounted(c: CaseApi | Store) -> tuple[dict[Any, int], ...]:
    """What the counter tables would hold, rolled up, had they been counted from the cases and
    the rectifications, one by one."""
    import sqlalchemy as sa

    from catalog.store.case_figures import (
        RECTIFICATION_TABLES,
        TABLES,
        Contribution,
        Rows,
        rectification_rows,
        rectified,
    )
    from catalog.store.cases import recount_figures
    from catalog.store.schema import CaseRow, RectificationRow

    store = c.api.store if isinstance(c, CaseApi) else c
    with store.engine.connect() as conn:
        ids = list(conn.execute(sa.select(CaseRow.id)).scalars())
        rectifications = [row._mapping for row in conn.execute(sa.select(RectificationRow.__table__))]
    total = recount_figures(store.cases.load(i) for i in ids)
    bad = Contribution()
    for row in rectifications:
        one = rectified(row)
        bad.tally.update(one.tally)
        bad.due.update(one.due)
    tables = (*TABLES, *RECTIFICATION_TABLES)
    rows = (*Rows(total).each(), *rectification_rows(bad))
    return tuple(
        _entries(each, keys, counters) for each, (_, keys, counters) in zip(rows, tables, strict=True)
    )
