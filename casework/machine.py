"""The task state machine of §7.2 and the case it adds up to: pure functions over a case and
its tasks (held in memory: a case has a handful), so that the store only loads, applies, writes.

| event | from → to |
|---|---|
| accept | ready → accepted (the clock starts: due = today + promised working days) |
| return | accepted → returned (补正: `missing` names the materials; the clock stops) |
| resubmit | returned → accepted (the clock runs on with the days left) |
| approve | accepted → done (`outputs` numbers each output of the item) |
| reject | ready or accepted → rejected (`note` required) |

Anything else is `Transition`. A done task's outputs reach every later task (内部流转) and each
waiting task whose predecessors are all done becomes ready; a rejected task cancels every task
that needs it, directly or through others. The case is open while a task is not final, then
done when every task is done, else closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from msgspec import Struct

from .calendar import WorkCalendar
from .errors import Refused, Transition
from .handin import Plan
from .model import FINAL, CaseRecord, CaseState, EventIn, Fault, ResultLine, Task, TaskRecord

ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    "accept": (frozenset({"ready"}), "accepted"),
    "return": (frozenset({"accepted"}), "returned"),
    "resubmit": (frozenset({"returned"}), "accepted"),
    "approve": (frozenset({"accepted"}), "done"),
    "reject": (frozenset({"ready", "accepted"}), "rejected"),
}

EVENT_WORDS = {
    "accept": "受理",
    "return": "补正",
    "resubmit": "补正后重新提交",
    "approve": "办结",
    "reject": "不予受理",
}
STATE_WORDS = {
    "waiting": "待受理（等待前序事项）",
    "ready": "待受理",
    "accepted": "已受理",
    "returned": "补正中",
    "done": "已办结",
    "rejected": "不予受理",
    "cancelled": "已撤销",
}
"""A task's state in the words the applicant and agency read (the pages, the refusals' words)."""


class Move(Struct, kw_only=True):
    """What an event did: the case and every task as they now stand, the ids of the tasks whose
    state changed (each with its `seq` moved on), and the acted task."""

    case: CaseRecord
    tasks: list[TaskRecord]
    changed: list[str]
    task: TaskRecord


def task_number(task_id: str) -> int:
    return int(task_id.rsplit("-", 1)[1])


def open_case(
    case_id: str,
    plan: Plan,
    *,
    region: str,
    bundle: str | None,
    revision: int,
    channel: str,
    service_point: str | None,
    today: date,
    calendar: WorkCalendar,
) -> tuple[CaseRecord, list[TaskRecord]]:
    """A new case and its tasks: stage-0 tasks ready, the others waiting."""
    due, provisional = calendar.add_days(today, plan.days)
    case = CaseRecord(
        id=case_id,
        region=region,
        bundle=bundle,
        revision=revision,
        channel=channel,
        service_point=service_point,
        state="open",
        handed_on=today,
        days=plan.days,
        due=due,
        due_provisional=provisional,
    )
    ids = {p.item: f"{case_id}-{n}" for n, p in enumerate(plan.tasks, 1)}
    tasks = [
        TaskRecord(
            task=Task(
                id=ids[p.item],
                item=p.item,
                implementation=p.implementation,
                agency=p.agency,
                stage=p.stage,
                state="ready" if not p.after else "waiting",
                promised_days=p.promised_days,
                due=None,
                name=p.name,
                agency_name=p.agency_name,
            ),
            case=case_id,
            after=[ids[i] for i in p.after if i in ids],
            outputs_of_item=p.outputs,
            fields=p.fields,
            materials=p.materials,
        )
        for p in plan.tasks
    ]
    return case, tasks


def apply(
    case: CaseRecord,
    tasks: list[TaskRecord],
    task_id: str,
    event: EventIn,
    *,
    today: date,
    calendar: WorkCalendar,
) -> Move:
    """The event on the task, and what follows from it; Transition or Refused, changing nothing."""
    by_id = {t.task.id: t for t in tasks}
    record = by_id[task_id]
    task = record.task
    sources, target = ALLOWED[event.event]
    if task.state not in sources:
        raise Transition(
            f"事项“{task.name or task.item}”{STATE_WORDS[task.state]}，不能{EVENT_WORDS[event.event]}。",
            [Fault(f"当前状态：{STATE_WORDS[task.state]}", field="event")],
        )
    _check_body(record, event)
    changed: list[str] = [task_id]
    task.state = target  # type: ignore[assignment]
    record.seq += 1
    if event.note:
        task.note = event.note
    if event.event in ("accept", "resubmit"):
        if event.event == "accept":
            record.clock_days = task.promised_days
        record.clock_from = today
        task.due, task.due_provisional = calendar.add_days(today, record.clock_days)
        task.missing = []
    elif event.event == "return":
        assert record.clock_from is not None
        used = calendar.between(record.clock_from, today)
        record.clock_days = max(0, record.clock_days - used)
        record.clock_from = None
        task.due, task.due_provisional = None, False
        task.missing = list(event.missing)
    elif event.event == "approve":
        task.outputs = dict(event.outputs)
        _end(record, case, today, calendar)
        for later in _downstream(tasks, task_id):
            later.task.received = {**later.task.received, **task.outputs}
        for waiting in tasks:
            if waiting.task.state == "waiting" and all(by_id[a].task.state == "done" for a in waiting.after):
                waiting.task.state = "ready"
                waiting.seq += 1
                changed.append(waiting.task.id)
    elif event.event == "reject":
        _end(record, case, today, calendar)
        for later in _downstream(tasks, task_id):
            if later.task.state not in FINAL:
                later.task.state = "cancelled"
                later.task.due, later.task.due_provisional = None, False
                later.seq += 1
                _end(later, case, today, calendar)
                changed.append(later.task.id)
    state = case_state(t.task.state for t in tasks)
    if state != case.state:
        case.state = state
        case.ended_on = today
        case.took = calendar.between(case.handed_on, today)
    return Move(case=case, tasks=tasks, changed=changed, task=record)


def _check_body(record: TaskRecord, event: EventIn) -> None:
    if event.event == "reject" and not event.note.strip():
        raise Refused("不予受理须写明理由（note）。", [Fault("必填，未填写", field="note")], code="NOTE")
    if event.event == "return" and not event.missing:
        raise Refused(
            "补正须列明所缺材料（missing）。", [Fault("必填，未填写", field="missing")], code="MISSING"
        )
    if event.event == "approve":
        absent = [m for m in record.outputs_of_item if not event.outputs.get(m, "").strip()]
        if absent:
            raise Refused(
                "办结须给出每项办理结果的编号（outputs）。",
                [Fault("缺少结果编号", material=m) for m in absent],
                code="OUTPUTS",
            )


def _end(record: TaskRecord, case: CaseRecord, today: date, calendar: WorkCalendar) -> None:
    """A task becomes final (its clock is kept: a provisional due is counted again later too)."""
    record.ended_on = today
    record.took = calendar.between(case.handed_on, today)


def _downstream(tasks: list[TaskRecord], task_id: str) -> list[TaskRecord]:
    """The tasks that need `task_id`, directly or through others."""
    reached: set[str] = {task_id}
    grew = True
    while grew:
        grew = False
        for t in tasks:
            if t.task.id not in reached and reached.intersection(t.after):
                reached.add(t.task.id)
                grew = True
    return [t for t in tasks if t.task.id in reached and t.task.id != task_id]


def case_state(states: Iterable[str]) -> CaseState:
    states = list(states)
    if any(s not in FINAL for s in states):
        return "open"
    return "done" if all(s == "done" for s in states) else "closed"


def result(tasks: list[TaskRecord]) -> list[ResultLine]:
    """统一出件: every output of the done tasks, with its number and task."""
    return [
        ResultLine(task=t.task.id, material=m, number=n)
        for t in sorted(tasks, key=lambda t: task_number(t.task.id))
        for m, n in t.task.outputs.items()
    ]


def task_overdue(task: Task, today: date) -> bool:
    return task.state not in FINAL and task.due is not None and today > task.due


def case_overdue(case: CaseRecord, today: date) -> bool:
    return case.state == "open" and today > case.due


def first_task(tasks: list[TaskRecord]) -> TaskRecord:
    """The case's first task: the smallest stage, then the smallest task id."""
    return min(tasks, key=lambda t: (t.task.stage, task_number(t.task.id)))


def recount(record: TaskRecord, calendar: WorkCalendar) -> bool:
    """Count a provisional task due again (a year's schedule arrived); True when it moved."""
    task = record.task
    if not task.due_provisional or record.clock_from is None:
        return False
    due, provisional = calendar.add_days(record.clock_from, record.clock_days)
    moved = due != task.due or provisional != task.due_provisional
    task.due, task.due_provisional = due, provisional
    return moved
