"""好差评 (§7.3): one rating per case once it is not open; every score of 1 or 2 opens a
rectification (整改) for the right agency, due in 15 working days; answer, close, reopen."""

from __future__ import annotations

from datetime import date

from msgspec import Struct

from .calendar import WorkCalendar
from .errors import NotFinal, Rated, Refused, Transition
from .machine import first_task
from .model import RECTIFY_DAYS, CaseRecord, Fault, Rating, RatingIn, Rectification, TaskRecord

SCORE_WORDS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD = 2
"""Scores at or below this are 差评."""

RECTIFICATION_MOVES: dict[str, tuple[frozenset[str], str]] = {
    "answer": (frozenset({"open"}), "answered"),
    "close": (frozenset({"answered"}), "closed"),
    "reopen": (frozenset({"answered", "closed"}), "open"),
}
RECTIFICATION_WORDS = {"open": "待整改", "answered": "已答复", "closed": "已办结"}
MOVE_WORDS = {"answer": "答复", "close": "办结", "reopen": "退回重新整改"}


class Opened(Struct, frozen=True, kw_only=True):
    """A rectification a rating opens (its id comes from the store)."""

    task: str | None
    agency: str
    item: str | None
    score: int
    due: date
    due_provisional: bool


def rate(
    case: CaseRecord,
    tasks: list[TaskRecord],
    given: RatingIn,
    *,
    rated: bool,
    today: date,
    calendar: WorkCalendar,
) -> tuple[Rating, list[Opened]]:
    """The rating and the rectifications it opens; NotFinal, Rated or Refused otherwise."""
    if case.state == "open":
        raise NotFinal("办件尚未办结，办结后才能评价。", [Fault("办件仍在办理中", field="case")])
    if rated:
        raise Rated("该办件已评价过，每件只能评价一次。", [Fault("已评价", field="case")])
    by_id = {t.task.id: t for t in tasks}
    faults = []
    if given.score not in SCORE_WORDS:
        faults.append(Fault("评分应为1至5", field="score"))
    for task_id, score in given.tasks.items():
        if task_id not in by_id:
            faults.append(Fault("不是本办件的事项", field=f"tasks.{task_id}"))
        elif score not in SCORE_WORDS:
            faults.append(Fault("评分应为1至5", field=f"tasks.{task_id}"))
    if faults:
        raise Refused("评价填写有误。", faults, code="RATING")
    due, provisional = calendar.add_days(today, RECTIFY_DAYS)
    opened: list[Opened] = []
    if given.score <= BAD:
        first = first_task(tasks)
        opened.append(
            Opened(
                task=None,
                agency=first.task.agency,
                item=None,
                score=given.score,
                due=due,
                due_provisional=provisional,
            )
        )
    for task_id, score in sorted(given.tasks.items()):
        if score <= BAD:
            t = by_id[task_id].task
            opened.append(
                Opened(
                    task=task_id,
                    agency=t.agency,
                    item=t.item,
                    score=score,
                    due=due,
                    due_provisional=provisional,
                )
            )
    rating = Rating(
        case=case.id, score=given.score, comment=given.comment, tasks=dict(given.tasks), rated_on=today
    )
    return rating, opened


def move(rectification: Rectification, action: str, *, finding: str = "", action_text: str = "") -> None:
    """answer (open → answered), close (answered → closed), reopen (answered or closed → open)."""
    sources, target = RECTIFICATION_MOVES[action]
    if rectification.state not in sources:
        raise Transition(
            f"整改{RECTIFICATION_WORDS[rectification.state]}，不能{MOVE_WORDS[action]}。",
            [Fault(f"当前状态：{RECTIFICATION_WORDS[rectification.state]}", field="state")],
        )
    if action == "answer":
        faults = [
            Fault("必填，未填写", field=f)
            for f, v in (("finding", finding), ("action", action_text))
            if not v.strip()
        ]
        if faults:
            raise Refused("整改答复须写明核查情况和整改措施。", faults, code="ANSWER")
        rectification.finding, rectification.action = finding, action_text
    rectification.state = target  # type: ignore[assignment]


def rectification_overdue(rectification: Rectification, today: date) -> bool:
    return rectification.state != "closed" and today > rectification.due
