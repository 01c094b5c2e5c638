"""The records of §7 as msgspec Structs: what a hand-in sends, what a case, a task, an event, a
rating and a rectification are, and the figures. The API's bodies are these Structs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec
from msgspec import Struct

Channel = Literal["window", "online", "app", "kiosk", "post", "assisted"]
MaterialMark = Literal["handed", "deferred"]
TaskState = Literal["waiting", "ready", "accepted", "returned", "done", "rejected", "cancelled"]
CaseState = Literal["open", "done", "closed"]
EventName = Literal["accept", "return", "resubmit", "approve", "reject"]
RectificationState = Literal["open", "answered", "closed"]
FormValue = str | int | float

FreeText = Annotated[str, msgspec.Meta(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
"""A note or comment people write: any text but control characters (tab and line breaks are
text), as every JSON body of the API is held to (`api.bodies`); said in the schema."""

FINAL: frozenset[str] = frozenset({"done", "rejected", "cancelled"})
"""The task states that end a task."""

RECTIFY_DAYS = 15
"""Working days an agency has to answer a rectification (§7.3)."""


class Fault(Struct, frozen=True, omit_defaults=True, gc=False):
    """One thing at fault in a refusal: a `question`, a `field` or a `material`, and why (Chinese)."""

    reason: str
    question: str | None = None
    field: str | None = None
    material: str | None = None
    requirement: str | None = None
    """For MATERIALS: the `<item>#<req>` the material is wanted for."""


class Applicant(Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    id_number: str
    phone: str = ""


class HandIn(Struct, frozen=True, forbid_unknown_fields=True):
    """The body of `POST /cases` (§7.1)."""

    region: str
    applicant: Applicant
    bundle: str | None = None
    items: list[str] | None = None
    answers: dict[str, str] = {}
    channel: Channel = "window"
    service_point: str | None = None
    form: dict[str, FormValue] = {}
    materials: dict[str, MaterialMark] = {}
    consent: bool = False


class Task(Struct, kw_only=True, omit_defaults=True):
    """One step of the case's workflow for one agency (分类审批), as the API shows it. Fields after
    `due` with defaults are shown only when they say something."""

    id: str
    item: str
    implementation: str
    agency: str
    stage: int
    state: TaskState
    promised_days: int
    due: date | None
    due_provisional: bool = False
    overdue: bool = False
    name: str = ""
    """The item's name (for people)."""
    agency_name: str = ""
    missing: list[str] = []
    """After a `return` (补正): the materials wanted."""
    outputs: dict[str, str] = {}
    """After `approve`: the number of each output of the item."""
    received: dict[str, str] = {}
    """Outputs of earlier tasks that reached this one (内部流转)."""
    note: str = ""


class TaskRecord(Struct, kw_only=True):
    """A task with what the rules need but the API does not show: whom it waits for, the clock."""

    task: Task
    case: str
    after: list[str]
    """Ids of the tasks of the same case whose items precede this task's item (§4 step 2)."""
    outputs_of_item: list[str]
    """The materials the item produces: `approve` must number each."""
    fields: list[str]
    """The form fields the item lists (what its agency may read)."""
    materials: dict[str, str]
    """What the item's requirements are met by: material id → `handed`, `deferred` (容缺), or the
    waiver (`internal`, `e_license`, `commitment`, `merged_form`)."""
    seq: int = 1
    """Changes of state so far, counting the first (what a consumer drops duplicates by)."""
    clock_from: date | None = None
    """The day the task's clock (re)started: acceptance or resubmission."""
    clock_days: int = 0
    """Working days left from `clock_from` (the promised days, less those used before a 补正)."""
    ended_on: date | None = None
    took: int | None = None
    """Working days from the case's hand-in to this task's end (once final)."""


class ResultLine(Struct, frozen=True, gc=False):
    task: str
    material: str
    number: str


class Case(Struct, kw_only=True, omit_defaults=True):
    """A case as `GET /cases/{id}` answers it; `applicant` and `form` only for those who may read them."""

    id: str
    state: CaseState
    revision: int
    due: date
    due_provisional: bool = False
    overdue: bool = False
    region: str = ""
    bundle: str | None = None
    channel: str = ""
    service_point: str | None = None
    handed_on: date | None = None
    ended_on: date | None = None
    tasks: list[Task] = []
    result: list[ResultLine] | None = None
    applicant: Applicant | None = None
    form: dict[str, FormValue] | None = None
    access: str | None = None
    """Only in the answer to the hand-in: the applicant's secret, shown once."""


class CaseRecord(Struct, kw_only=True):
    """A case as the rules see it: no personal data (that is sealed apart)."""

    id: str
    region: str
    bundle: str | None
    revision: int
    channel: str
    service_point: str | None
    state: CaseState
    handed_on: date
    days: int
    """The workflow's `days_after`: working days from the hand-in to the case's `due`."""
    due: date
    due_provisional: bool
    ended_on: date | None = None
    took: int | None = None
    """Working days from the hand-in to the last task's end (once not open)."""


class EventIn(Struct, frozen=True, forbid_unknown_fields=True):
    """The body of `POST /tasks/{id}/events` (§7.2)."""

    event: EventName
    key: str = msgspec.field(default="")
    note: FreeText = ""
    outputs: dict[str, str] = {}
    missing: list[str] = []


class RatingIn(Struct, frozen=True, forbid_unknown_fields=True):
    """The body of `POST /cases/{id}/rating` (§7.3)."""

    score: int
    comment: FreeText = ""
    tasks: dict[str, int] = {}


class Rating(Struct, frozen=True, kw_only=True):
    case: str
    score: int
    comment: str
    tasks: dict[str, int]
    rated_on: date


class Rectification(Struct, kw_only=True, omit_defaults=True):
    """A 差评's rectification (整改), as `GET /rectifications` lists it."""

    id: int
    case: str
    task: str | None
    agency: str
    score: int
    comment: str
    state: RectificationState
    due: date
    finding: str | None
    action: str | None
    due_provisional: bool = False
    overdue: bool = False
    region: str = ""


class AnswerIn(Struct, frozen=True, forbid_unknown_fields=True):
    """The body of `POST /rectifications/{id}/answer`."""

    finding: FreeText
    action: FreeText


class RectificationFigures(Struct, frozen=True):
    open: int = 0
    answered: int = 0
    closed: int = 0
    overdue: int = 0


class Figures(Struct, frozen=True):
    """§7.4: the figures of a region and everything under it (no personal data)."""

    cases: int
    open: int
    done: int
    closed: int
    overdue: int
    tasks: int
    tasks_overdue: int
    days_median: float | None
    ratings: int
    score_mean: float | None
    good_rate: float | None
    bad: int
    rectifications: RectificationFigures


class QueuedTask(Task, kw_only=True, omit_defaults=True):
    """A task as an agency's queue shows it: the task, its case, the form fields its item lists,
    and the materials its requirements are met by."""

    case: str = ""
    form: dict[str, FormValue] | None = None
    materials: dict[str, str] = {}


class Queue(Struct):
    tasks: list[QueuedTask]
    next: str | None


class RectificationList(Struct):
    rectifications: list[Rectification]


class RatingOut(Struct):
    """The answer to a rating: the rating and the rectifications it opened."""

    score: int
    comment: str
    tasks: dict[str, int]
    rectifications: list[Rectification]
