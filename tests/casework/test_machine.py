"""§7.2's state machine: each transition and its refusal, and a hypothesis state machine that
runs any sequence of events over random task graphs keeping §7's invariants."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from casework import (
    FINAL,
    EventIn,
    Plan,
    Refused,
    TaskPlan,
    Transition,
    WorkCalendar,
    apply,
    case_state,
    open_case,
)
from casework.machine import ALLOWED, result, task_overdue
from catalog.store.case_figures import contributions

CAL = WorkCalendar()
DAY = date(2026, 12, 4)


def plan(edges: dict[str, list[str]], days: int = 3) -> Plan:
    """Items 'a', 'b', … with the given predecessors; each has one output 'out-<item>'."""
    stage: dict[str, int] = {}
    for item, after in edges.items():  # edges are given in a topological order
        stage[item] = max((stage[p] + 1 for p in after), default=0)
    return Plan(
        tasks=[
            TaskPlan(
                item=item,
                implementation=f"impl-{item}",
                agency=f"agency-{item}",
                agency_name=item,
                name=item,
                stage=stage[item],
                promised_days=days,
                after=after,
                outputs=[f"out-{item}"],
                fields=[],
                materials={},
            )
            for item, after in edges.items()
        ],
        days=days * len(edges),
        form={},
    )


def opened(edges: dict[str, list[str]]):
    return open_case(
        "640104-20261204-0001",
        plan(edges),
        region="640104",
        bundle="b",
        revision=1,
        channel="window",
        service_point=None,
        today=DAY,
        calendar=CAL,
    )


def tid(n: int) -> str:
    return f"640104-20261204-0001-{n}"


def ev(name: str, **kw) -> EventIn:
    return EventIn(event=name, key="k", **kw)


CHAIN = {"a": [], "b": ["a"], "c": ["b"]}


def test_stage_zero_ready_later_waiting():
    case, tasks = opened(CHAIN)
    assert [t.task.state for t in tasks] == ["ready", "waiting", "waiting"]
    assert case.state == "open" and case.due == CAL.add_days(DAY, 9)[0]


def test_accept_starts_the_clock():
    case, tasks = opened(CHAIN)
    move = apply(case, tasks, tid(1), ev("accept"), today=DAY, calendar=CAL)
    assert move.task.task.state == "accepted"
    assert move.task.task.due == date(2026, 12, 9)  # Fri + 3 working days


def test_return_stops_the_clock_and_resubmit_runs_it_on():
    case, tasks = opened(CHAIN)
    apply(case, tasks, tid(1), ev("accept"), today=DAY, calendar=CAL)
    # returned on Mon 7 Dec: one working day used, two left
    move = apply(case, tasks, tid(1), ev("return", missing=["x"]), today=date(2026, 12, 7), calendar=CAL)
    assert move.task.task.state == "returned" and move.task.task.due is None
    assert move.task.task.missing == ["x"]
    # resubmitted on Mon 14 Dec: due two working days later
    move = apply(case, tasks, tid(1), ev("resubmit"), today=date(2026, 12, 14), calendar=CAL)
    assert move.task.task.state == "accepted" and move.task.task.due == date(2026, 12, 16)
    assert move.task.task.missing == []


def test_approve_hands_outputs_on_and_readies_the_next():
    case, tasks = opened(CHAIN)
    apply(case, tasks, tid(1), ev("accept"), today=DAY, calendar=CAL)
    move = apply(case, tasks, tid(1), ev("approve", outputs={"out-a": "A-1"}), today=DAY, calendar=CAL)
    assert move.changed == [tid(1), tid(2)]
    states = {t.task.id: t.task for t in move.tasks}
    assert states[tid(2)].state == "ready"
    assert states[tid(2)].received == {"out-a": "A-1"} and states[tid(3)].received == {"out-a": "A-1"}


def test_approve_needs_every_output_numbered():
    case, tasks = opened(CHAIN)
    apply(case, tasks, tid(1), ev("accept"), today=DAY, calendar=CAL)
    with pytest.raises(Refused) as caught:
        apply(case, tasks, tid(1), ev("approve"), today=DAY, calendar=CAL)
    assert caught.value.code == "OUTPUTS" and caught.value.errors[0].material == "out-a"


def test_reject_needs_a_note_and_cancels_downstream():
    case, tasks = opened({"a": [], "b": ["a"], "c": ["b"], "d": []})
    with pytest.raises(Refused) as caught:
        apply(case, tasks, tid(1), ev("reject"), today=DAY, calendar=CAL)
    assert caught.value.code == "NOTE"
    move = apply(case, tasks, tid(1), ev("reject", note="材料不实"), today=DAY, calendar=CAL)
    assert [t.task.state for t in move.tasks] == ["rejected", "cancelled", "cancelled", "ready"]
    assert move.case.state == "open"
    apply(case, tasks, tid(4), ev("accept"), today=DAY, calendar=CAL)
    move = apply(case, tasks, tid(4), ev("approve", outputs={"out-d": "D"}), today=DAY, calendar=CAL)
    assert move.case.state == "closed" and move.case.ended_on == DAY
    assert result(move.tasks)[0].number == "D"


@pytest.mark.parametrize("event", sorted(ALLOWED))
@pytest.mark.parametrize(
    "state", ["waiting", "ready", "accepted", "returned", "done", "rejected", "cancelled"]
)
def test_every_other_event_in_a_state_is_a_transition_error(event, state):
    case, tasks = opened({"a": []})
    tasks[0].task.state = state
    before = msgspec.json.encode(tasks)
    body = ev(event, note="n", missing=["x"], outputs={"out-a": "1"})
    if state in ALLOWED[event][0]:
        return  # the allowed ones: the tests above
    with pytest.raises(Transition) as caught:
        apply(case, tasks, tid(1), body, today=DAY, calendar=CAL)
    assert caught.value.code == "TRANSITION"
    assert msgspec.json.encode(tasks) == before


def test_case_states():
    assert case_state(["done", "accepted"]) == "open"
    assert case_state(["done", "done"]) == "done"
    assert case_state(["done", "cancelled", "rejected"]) == "closed"


# -- any sequence of events ------------------------------------------------------------------------

graphs = st.integers(min_value=1, max_value=6).flatmap(
    lambda n: st.lists(
        st.lists(st.integers(min_value=0, max_value=max(0, n - 1)), max_size=3), min_size=n, max_size=n
    ).map(
        lambda preds: {chr(97 + i): sorted({chr(97 + p) for p in ps if p < i}) for i, ps in enumerate(preds)}
    )
)


class Cases(RuleBasedStateMachine):
    @initialize(edges=graphs)
    def start(self, edges):
        self.edges = edges
        self.case, self.tasks = opened(edges)
        self.today = DAY
        self.ended: dict[str, str] = {}
        self.seq = {t.task.id: t.seq for t in self.tasks}

    @rule(
        n=st.integers(min_value=1, max_value=6),
        event=st.sampled_from(sorted(ALLOWED)),
        note=st.booleans(),
        days=st.integers(min_value=0, max_value=4),
    )
    def act(self, n, event, note, days):
        self.today += timedelta(days=days)
        if n > len(self.tasks):
            return
        record = self.tasks[n - 1]
        body = EventIn(
            event=event,
            key="k",
            note="理由" if note else "",
            missing=["m"],
            outputs={o: "No." for o in record.outputs_of_item},
        )
        before = msgspec.json.encode([self.case, self.tasks])
        allowed = record.task.state in ALLOWED[event][0]
        try:
            move = apply(self.case, self.tasks, record.task.id, body, today=self.today, calendar=CAL)
        except Transition:
            assert not allowed
            assert msgspec.json.encode([self.case, self.tasks]) == before
            return
        except Refused:
            assert event == "reject" and not note
            assert msgspec.json.encode([self.case, self.tasks]) == before
            return
        assert allowed
        assert record.task.id in move.changed
        for t in self.tasks:
            changed = t.task.id in move.changed
            assert (t.seq == self.seq[t.task.id] + 1) if changed else (t.seq == self.seq[t.task.id])
            self.seq[t.task.id] = t.seq

    @invariant()
    def finals_stay_final(self):
        for t in self.tasks:
            if t.task.id in self.ended:
                assert t.task.state == self.ended[t.task.id]
            elif t.task.state in FINAL:
                self.ended[t.task.id] = t.task.state

    @invariant()
    def readiness_follows_predecessors(self):
        by_id = {t.task.id: t.task for t in self.tasks}
        for t in self.tasks:
            done = all(by_id[a].state == "done" for a in t.after)
            if t.task.state == "waiting":
                assert not done
            if t.task.state in ("ready", "accepted", "returned", "done"):
                assert done

    @invariant()
    def cancelled_only_downstream_of_a_rejection(self):
        by_id = {t.task.id: t for t in self.tasks}

        def upstream(tid_: str) -> set[str]:
            seen, todo = set(), list(by_id[tid_].after)
            while todo:
                x = todo.pop()
                if x not in seen:
                    seen.add(x)
                    todo.extend(by_id[x].after)
            return seen

        for t in self.tasks:
            if t.task.state == "cancelled":
                assert any(by_id[u].task.state == "rejected" for u in upstream(t.task.id))
            if t.task.state not in FINAL:
                assert not any(by_id[u].task.state == "rejected" for u in upstream(t.task.id))

    @invariant()
    def clocks(self):
        for t in self.tasks:
            task = t.task
            if task.state == "accepted":
                assert task.due is not None
            if task.state in ("waiting", "ready", "returned", "cancelled"):
                assert task.due is None
            if task.state == "returned":
                assert task.due is None and task.missing
            if task.state == "done":
                assert set(task.outputs) == set(t.outputs_of_item)
            assert not (task.state in FINAL and task_overdue(task, self.today))

    @invariant()
    def the_case_adds_up(self):
        states = [t.task.state for t in self.tasks]
        assert self.case.state == case_state(states)
        assert (self.case.ended_on is None) == (self.case.state == "open")
        outputs = sorted((r.task, r.material) for r in result(self.tasks))
        assert outputs == sorted(
            (t.task.id, o) for t in self.tasks if t.task.state == "done" for o in t.task.outputs
        )
        counts = contributions(self.case, self.tasks, None).tally
        whole = (DAY, "640104", "b", "", "")
        assert counts[whole, "cases"] == 1 and counts[whole, "tasks"] == len(self.tasks)
        assert counts[whole, self.case.state] == 1


TestCases = Cases.TestCase
TestCases.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
