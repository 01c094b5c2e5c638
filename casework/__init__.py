"""Cases (§7): one application per "one thing", split into tasks for the agencies, tracked on
working days to one result, then rated. Pure: no database, no web framework.

- `model` — the Structs: hand-in, case, task, event, rating, rectification, figures.
- `fields` — typed checks of form values (GB 11643 IDs, phones, dates, numbers, choices).
- `handin` — §7.1's checks against a workflow the bundler computed, and the case's plan.
- `machine` — §7.2's task state machine, the case state, the result.
- `rating` — §7.3's rating and rectification moves.
- `calendar` — working days on the official PRC calendar, with schedules added as data.
- `errors` — the domain errors, each with the spec's `code` and `errors`.
"""

from .calendar import Schedule, ScheduleError, WorkCalendar
from .errors import (
    CaseError,
    CaseNotFound,
    Denied,
    NotFinal,
    Rated,
    Refused,
    Transition,
    Unauthenticated,
    Unconfigured,
)
from .handin import Plan, TaskPlan, check, refused_bundling
from .machine import Move, apply, case_state, open_case, result
from .model import (
    FINAL,
    AnswerIn,
    Applicant,
    Case,
    CaseRecord,
    EventIn,
    Fault,
    Figures,
    HandIn,
    Rating,
    RatingIn,
    Rectification,
    RectificationFigures,
    ResultLine,
    Task,
    TaskRecord,
)

__all__ = [
    "FINAL",
    "AnswerIn",
    "Applicant",
    "Case",
    "CaseError",
    "CaseNotFound",
    "CaseRecord",
    "Denied",
    "EventIn",
    "Fault",
    "Figures",
    "HandIn",
    "Move",
    "NotFinal",
    "Plan",
    "Rated",
    "Rating",
    "RatingIn",
    "Rectification",
    "RectificationFigures",
    "Refused",
    "ResultLine",
    "Schedule",
    "ScheduleError",
    "Task",
    "TaskPlan",
    "TaskRecord",
    "Transition",
    "Unauthenticated",
    "Unconfigured",
    "WorkCalendar",
    "apply",
    "case_state",
    "check",
    "open_case",
    "refused_bundling",
    "result",
]
