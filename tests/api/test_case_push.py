"""Push (§7.2) through a real NATS JetStream, on SQLite and PostgreSQL: the outbox written with the
task, the relay's messages (subject, body, seq, message id), JetStream dropping a copy, a `kill -9`
between commit and publish losing nothing, and the service working without (or despite) a broker.

Each test has a stream and subject prefix of its own (ONETHING_NATS_STREAM, ONETHING_NATS_SUBJECT),
deleted afterwards, so tests never see each other's messages."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.relay import Relay, RelayConfig
from api.settings import Settings
from catalog.store import Store
from catalog.store.cases import Sealer
from catalog.store.outbox import Outbox
from catalog.store.schema import OutboxRow, TaskRow
from tests.api.case_helpers import AGENCIES, FATHER, MOTHER, CaseApi, case_api, finish, newborn, outputs_of
from tests.api.conftest import serving
from tests.api.netutil import Proxy
from tests.conftest import NINGXIA, ROOT, onething

PERSONAL = ("李四", "张三", "张小宝", MOTHER, FATHER, "13800000000", "6200000000000001")


@dataclass
class Stream:
    url: str
    name: str
    subject: str

    def messages(self) -> list[tuple[str, dict[str, str], dict[str, Any], bytes]]:
        """(subject, headers, body, raw body) of every message in the stream, in order."""
        return asyncio.run(self._messages())

    async def _messages(self):
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(self.url)
        try:
            js = nc.jetstream()
            try:
                info = await js.stream_info(self.name)
            except NotFoundError:
                return []
            out = []
            if info.state.messages:
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    m = await js.get_msg(self.name, seq)
                    out.append((m.subject, dict(m.headers or {}), json.loads(m.data), m.data))
            return out
        finally:
            await nc.close()

    def wait(
        self, count: int, within: float = 30.0
    ) -> list[tuple[str, dict[str, str], dict[str, Any], bytes]]:
        """The messages once there are at least `count` (bounded wait, not a timing assertion)."""
        end = time.monotonic() + within
        while True:
            got = self.messages()
            if len(got) >= count or time.monotonic() > end:
                return got
            time.sleep(0.1)

    def delete(self) -> None:
        async def go() -> None:
            import nats
            from nats.js.errors import NotFoundError

            nc = await nats.connect(self.url)
            try:
                await nc.jetstream().delete_stream(self.name)
            except NotFoundError:
                pass
            finally:
                await nc.close()

        asyncio.run(go())


@pytest.fixture
def stream(nats_url, monkeypatch) -> Iterator[Stream]:
    tag = uuid.uuid4().hex[:12]
    s = Stream(nats_url, f"T_{tag}", f"t{tag}.tasks")
    monkeypatch.setenv("ONETHING_NATS_STREAM", s.name)
    monkeypatch.setenv("ONETHING_NATS_SUBJECT", s.subject)
    yield s
    s.delete()


@contextmanager
def pushing(db_url: str, monkeypatch, nats_url: str | None) -> Iterator[CaseApi]:
    """The cases API (Ningxia catalog, agency tokens, a fixed clock) with push to `nats_url`."""
    with case_api(db_url, monkeypatch, nats_url=nats_url) as c:
        yield c


def outbox_rows(engine: sa.Engine) -> list[tuple[str, int, bool]]:
    with engine.connect() as conn:
        return [
            (t, s, sent is not None)
            for t, s, sent in conn.execute(
                sa.select(OutboxRow.task_id, OutboxRow.seq, OutboxRow.sent_at).order_by(OutboxRow.pk)
            )
        ]


def queue_view(c: CaseApi, task_id: str, agency: str) -> dict[str, Any]:
    """The task as its agency's queue shows it (`form` aside: not on the wire)."""
    name = next(n for n, u in AGENCIES.items() if u == agency)
    url = f"/agencies/{agency}/tasks"
    tasks = c.api.client.get(url, params={"limit": 500}, headers=c.as_agency(name)).json()["tasks"]
    found = next(t for t in tasks if t["id"] == task_id)
    found.pop("form", None)
    return found


def wait_until_sent(engine: sa.Engine, within: float = 30.0) -> None:
    end = time.monotonic() + within
    while any(not sent for _, _, sent in outbox_rows(engine)) and time.monotonic() < end:
        time.sleep(0.1)


# -- messages -------------------------------------------------------------------------------------


def test_a_hand_ins_tasks_arrive_on_their_agencies_subjects_with_seq_1(db_url, stream, monkeypatch):
    with pushing(db_url, monkeypatch, stream.url) as c:
        r = c.hand_in()
        assert r.status_code == 201, r.text
        case = r.json()
        got = stream.wait(len(case["tasks"]))
        assert len(got) == len(case["tasks"])
        by_task = {body["id"]: (subject, headers, body, raw) for subject, headers, body, raw in got}
        assert set(by_task) == {t["id"] for t in case["tasks"]}
        for t in case["tasks"]:
            subject, headers, body, raw = by_task[t["id"]]
            assert subject == f"{stream.subject}.{t['agency']}"
            assert headers["Nats-Msg-Id"] == f"{t['id']}:1"
            assert body["seq"] == 1 and body["state"] == t["state"] and body["case"] == case["id"]
            assert {k: v for k, v in body.items() if k != "seq"} == queue_view(c, t["id"], t["agency"])
            assert "form" not in body and "applicant" not in body
            text = raw.decode()
            assert not [p for p in PERSONAL if p in text], text  # no personal data on the wire
        assert {b["state"] for _, _, b, _ in got} == {"ready", "waiting"}
        wait_until_sent(c.api.store.engine)
        assert all(sent for _, _, sent in outbox_rows(c.api.store.engine))


def test_each_change_of_state_arrives_with_the_next_seq_in_order(db_url, stream, monkeypatch):
    with pushing(db_url, monkeypatch, stream.url) as c:
        case = c.hand_in().json()
        engine = c.api.store.engine
        first = next(t for t in case["tasks"] if t["state"] == "ready")
        who = next(n for n, u in AGENCIES.items() if u == first["agency"])
        assert c.event(first["id"], "accept", who, key="k-accept").status_code == 200
        got = stream.wait(len(case["tasks"]) + 1)
        last = got[-1]
        assert last[2]["id"] == first["id"] and last[2]["seq"] == 2 and last[2]["state"] == "accepted"
        assert last[1]["Nats-Msg-Id"] == f"{first['id']}:2"
        rows = len(outbox_rows(engine))
        # an agency's retry changes nothing: no new row, no message
        assert c.event(first["id"], "accept", who, key="k-accept").status_code == 200
        assert len(outbox_rows(engine)) == rows
        # the whole case to its end: every task's messages are 1, 2, … in order, the last as it stands
        finish(c, case["id"], case["access"])
        wait_until_sent(engine)
        got = stream.messages()
        with engine.connect() as conn:
            expected = sum(json.loads(body)["seq"] for (body,) in conn.execute(sa.select(TaskRow.body)))
        assert len(got) == expected == len(outbox_rows(engine))
        seqs: dict[str, list[int]] = {}
        bodies: dict[str, dict[str, Any]] = {}
        for _, headers, body, _ in got:
            seqs.setdefault(body["id"], []).append(body["seq"])
            bodies[body["id"]] = body
            assert headers["Nats-Msg-Id"] == f"{body['id']}:{body['seq']}"
        assert all(s == list(range(1, len(s) + 1)) for s in seqs.values()), seqs
        for t in case["tasks"]:
            body = bodies[t["id"]]
            assert body["state"] == "done"
            assert {k: v for k, v in body.items() if k != "seq"} == queue_view(c, t["id"], t["agency"])


def test_jetstream_drops_a_message_sent_twice(db_url, stream, monkeypatch):
    with pushing(db_url, monkeypatch, stream.url) as c:
        case = c.hand_in().json()
        n = len(case["tasks"])
        assert len(stream.wait(n)) == n
        engine = c.api.store.engine
        wait_until_sent(engine)
        c.api.client.app.state.relay.stop()  # only our relay below sends
        with engine.begin() as conn:  # as if the marks had been lost: every row sent again
            conn.execute(sa.update(OutboxRow).values(sent_at=None))
        relay = Relay(Outbox(engine), RelayConfig.from_env(stream.url))
        tally = asyncio.run(relay.run(once=True))
        assert (tally.published, tally.duplicates) == (n, n)
        assert len(stream.messages()) == n
        assert all(sent for _, _, sent in outbox_rows(engine))


# -- kill -9 between commit and publish -----------------------------------------------------------


def test_a_kill_9_between_commit_and_publish_loses_no_task(db_url, stream, monkeypatch):
    key = Sealer.new_key()
    store = Store(db_url)
    store.publish_file(NINGXIA)
    env = {
        **os.environ,
        "ONETHING_CASE_KEY": key,
        "ONETHING_NATS_URL": stream.url,
        "ONETHING_NATS_STREAM": stream.name,
        "ONETHING_NATS_SUBJECT": stream.subject,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    # the service commits the hand-in, then its relay dies just before publishing (the test seam)
    with serving(db_url, env={**env, "ONETHING_RELAY_CRASH": "before-publish"}) as (proc, base):
        try:
            r = httpx.post(f"{base}/cases", json=newborn(), timeout=30)
            assert r.status_code == 201, r.text
        except httpx.TransportError:
            pass  # killed before its answer went out: the commit is what counts
        assert proc.wait(60) == -9
    rows = outbox_rows(store.engine)
    with store.engine.connect() as conn:
        tasks = {t: json.loads(b)["seq"] for t, b in conn.execute(sa.select(TaskRow.id, TaskRow.body))}
    assert tasks and sorted((t, s) for t, s, _ in rows) == sorted(tasks.items())
    assert not any(sent for _, _, sent in rows) and stream.messages() == []

    # a relay publishes everything, then dies before marking a row sent
    dead = onething(
        "cases", "relay", "--db", db_url, "--once", env={**env, "ONETHING_RELAY_CRASH": "after-publish"}
    )
    assert dead.returncode == -9, dead.stderr
    assert len(stream.messages()) == len(tasks)
    assert not any(sent for _, _, sent in outbox_rows(store.engine))

    # the next relay sends every row again; JetStream keeps one copy of each
    again = onething("cases", "relay", "--db", db_url, "--once", env=env)
    assert again.returncode == 0, again.stderr
    assert f"published {len(tasks)} task message(s), {len(tasks)} dropped" in again.stdout
    got = stream.messages()
    assert sorted(h["Nats-Msg-Id"] for _, h, _, _ in got) == sorted(f"{t}:{s}" for t, s in tasks.items())
    assert all(sent for _, _, sent in outbox_rows(store.engine))
    store.dispose()


# -- the broker is optional -----------------------------------------------------------------------


def test_without_a_broker_nothing_is_written_and_the_pull_api_works(sqlite_url, monkeypatch):
    with pushing(sqlite_url, monkeypatch, None) as c:
        assert c.api.client.app.state.relay is None
        case = c.hand_in().json()
        agency = case["tasks"][0]["agency"]
        name = next(n for n, u in AGENCIES.items() if u == agency)
        queue = c.api.client.get(f"/agencies/{agency}/tasks", headers=c.as_agency(name))
        assert queue.status_code == 200 and queue.json()["tasks"]
        assert outbox_rows(c.api.store.engine) == []
        health = c.api.client.get("/health")
        assert health.status_code == 200 and health.json()["broker"] == "not configured"


def test_a_broker_down_slows_no_request_and_is_one_line_until_it_is_back(
    db_url, stream, monkeypatch, captured
):
    proxy = Proxy(("127.0.0.1", int(stream.url.rsplit(":", 1)[1])))
    proxy.hang()  # a broker that accepts and never answers
    monkeypatch.setenv("ONETHING_NATS_TIMEOUT", "0.5")
    try:
        with pushing(db_url, monkeypatch, f"nats://127.0.0.1:{proxy.port}") as c:
            relay = c.api.client.app.state.relay
            case = c.hand_in().json()
            assert case["state"] == "open"
            second = c.hand_in()
            assert second.status_code == 201
            n = len(case["tasks"]) + len(second.json()["tasks"])
            agency = case["tasks"][0]["agency"]
            name = next(k for k, u in AGENCIES.items() if u == agency)
            assert c.api.client.get(f"/agencies/{agency}/tasks", headers=c.as_agency(name)).status_code == 200
            end = time.monotonic() + 30
            while relay.tally.failures < 3 and time.monotonic() < end:
                time.sleep(0.1)
            assert relay.tally.failures >= 3
            assert len(outbox_rows(c.api.store.engine)) == n
            health = c.api.client.get("/health")  # the broker is optional: reported, not a 503
            assert health.status_code == 200 and health.json()["broker"] == "down", health.text
            down = [r for r in captured.records if "unreachable" in r.getMessage()]
            assert len(down) == 1 and down[0].levelname == "WARNING", captured.text
            proxy.resume()
            got = stream.wait(n)
            assert len(got) == n
            wait_until_sent(c.api.store.engine)
            assert all(sent for _, _, sent in outbox_rows(c.api.store.engine))
            assert c.api.client.get("/health").json()["broker"] == "connected"
            back = [r for r in captured.records if "sending again" in r.getMessage()]
            assert (
                len(back) == 1 and len([r for r in captured.records if "unreachable" in r.getMessage()]) == 1
            )
    finally:
        proxy.cut()


def test_the_cli_relay_needs_a_broker_and_says_so_when_it_is_down(sqlite_url):
    Store(sqlite_url).dispose()
    bare = onething(
        "cases", "relay", "--db", sqlite_url, "--once", env={**os.environ, "ONETHING_NATS_URL": ""}
    )
    assert bare.returncode == 2 and "ONETHING_NATS_URL" in bare.stderr
    from tests.api.netutil import dead_port

    down = onething(
        "cases", "relay", "--db", sqlite_url, "--once", "--nats", f"nats://127.0.0.1:{dead_port()}"
    )
    assert down.returncode == 3 and "unreachable" in down.stderr and "outbox" in down.stderr


def test_two_relays_share_the_outbox_and_keep_each_tasks_order(db_url, stream, monkeypatch):
    monkeypatch.setenv("ONETHING_NATS_RELAY", "0")  # the outbox is written, no relay in the app
    with pushing(db_url, monkeypatch, stream.url) as c:
        assert c.api.client.app.state.relay is None
        for _ in range(4):
            case = c.hand_in().json()
            for t in case["tasks"]:
                if t["state"] == "ready":
                    who = next(n for n, u in AGENCIES.items() if u == t["agency"])
                    assert c.event(t["id"], "accept", who).status_code == 200
                    assert (
                        c.event(t["id"], "approve", who, outputs=outputs_of(c, t["item"])).status_code == 200
                    )
        engine = c.api.store.engine
        rows = outbox_rows(engine)
        assert len(rows) > 40 and not any(sent for _, _, sent in rows)
        relays = [Relay(Outbox(engine), RelayConfig.from_env(stream.url)) for _ in range(2)]
        for r in relays:  # small batches: the two take turns many times
            r.config = dataclasses.replace(r.config, batch=5)
        threads = [threading.Thread(target=lambda r=r: asyncio.run(r.run(once=True))) for r in relays]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert all(sent for _, _, sent in outbox_rows(engine))
        got = stream.messages()
        assert len(got) == len(rows)
        assert sum(r.tally.published - r.tally.duplicates for r in relays) == len(rows)
        if db_url.startswith("postgresql"):  # rows locked while sent: none twice
            assert sum(r.tally.duplicates for r in relays) == 0
        seqs: dict[str, list[int]] = {}
        for _, _, body, _ in got:
            seqs.setdefault(body["id"], []).append(body["seq"])
        assert all(s == list(range(1, len(s) + 1)) for s in seqs.values()), seqs
        assert max(len(s) for s in seqs.values()) >= 3


def test_the_push_settings_and_their_defaults():
    assert Settings.from_env({}).nats_url is None
    assert Settings.from_env({"ONETHING_NATS_URL": "nats://b:4222"}).nats_url == "nats://b:4222"
    config = RelayConfig.from_env("nats://b:4222", {})
    assert (config.stream, config.subject, config.crash) == ("ONETHING_TASKS", "onething.tasks", None)
    with pytest.raises(ValueError, match="ONETHING_RELAY_CRASH"):
        RelayConfig.from_env("nats://b:4222", {"ONETHING_RELAY_CRASH": "sometimes"})
