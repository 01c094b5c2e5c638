"""Cases (§7) for the API and the pages: who may read or act on what, the workflow a hand-in is
checked against, the calendar, today's date — and the store's answers turned into bodies.

Every rule lives in `casework` (pure) and every write in `catalog.store.cases`; this service
raises only `casework`'s domain errors (mapped to HTTP once, in `api.problems`).

Who may do what (§7.2, §7.3, §7.5):

| who | read a case | personal data | act |
|---|---|---|---|
| applicant (`X-Case-Access`) | its case | all | `resubmit`, rate |
| agency token (one USCC) | cases where it has a task: its tasks only | its items' fields | events on its tasks, answer its rectifications |
| admin token | every case | all | everything |
| reviewer token | every case (none personal) | — | close, reopen rectifications of its region |
| portal, designer token | every case (none personal) | — | — |
| nobody | — | — | the figures (public) |
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bundler import BundleError, Workflow, compose
from casework import (
    AnswerIn,
    Case,
    CaseNotFound,
    Denied,
    EventIn,
    Fault,
    Figures,
    HandIn,
    Rating,
    RatingIn,
    Rectification,
    Refused,
    Schedule,
    Task,
    TaskRecord,
    Unauthenticated,
    WorkCalendar,
    check,
    refused_bundling,
    result,
)
from casework.calendar import ScheduleError, schedule_decoder
from casework.handin import check_answers
from casework.machine import case_overdue, task_overdue
from casework.model import Queue, QueuedTask, RatingOut, RectificationList
from casework.rating import rectification_overdue
from catalog.model import Catalog

from ..lru import MISSING, BoundedLRU
from .base import off_loop

if TYPE_CHECKING:
    from catalog.store import Caller, Store
    from catalog.store.cases import CaseStore, Loaded

    from ..view import Views

log = logging.getLogger("onething.api")

CHINA = ZoneInfo("Asia/Shanghai")
CALENDAR_TTL = 60.0
WORKFLOWS = 1024
"""Hand-in workflows kept in this process (a bundle or items × region × answers each)."""
"""Seconds the calendar (package + added years) is kept before the store is asked again."""


def china_today() -> date:
    """Today in Beijing time: the day a case is handed in or an event happens."""
    return datetime.now(CHINA).date()


@dataclass(frozen=True)
class Who:
    """Who asks: a token's caller, the applicant's access code, both or neither."""

    caller: Caller | None = None
    access: str | None = None

    @property
    def name(self) -> str:
        return self.caller.name if self.caller is not None else "applicant"


class CaseService:
    def __init__(
        self,
        views: Views,
        store: Store,
        *,
        calendar_dir: str | Path | None = None,
        clock: Callable[[], date] = china_today,
    ):
        self.views = views
        self.cases: CaseStore = store.cases
        self.calendar_dir = Path(calendar_dir) if calendar_dir else None
        self.clock = clock
        self._calendar: WorkCalendar | None = None
        self._calendar_at = float("-inf")
        self._calendar_years: frozenset[int] = frozenset()
        self._workflows: BoundedLRU[tuple[Any, ...], tuple[Catalog, Workflow]] = BoundedLRU(WORKFLOWS)
        """Hand-ins' workflows with the slices they were composed from (`hand_in`)."""

    _run = staticmethod(off_loop)

    # -- the calendar ---------------------------------------------------------------------------
    def calendar(self) -> WorkCalendar:
        """The package's years plus those added as data (a directory's JSON files, the store's
        table), read again every CALENDAR_TTL seconds; a year that arrived counts provisional
        due dates again."""
        now = time.monotonic()
        if self._calendar is not None and now - self._calendar_at < CALENDAR_TTL:
            return self._calendar
        schedules = [*directory_schedules(self.calendar_dir), *self.cases.schedules()]
        calendar = WorkCalendar(schedules)
        years = frozenset(s.year for s in schedules)
        if (self._calendar is not None and years - self._calendar_years) or (
            self._calendar is None and years
        ):
            moved = self.cases.recount(calendar)
            if moved:
                log.info("counted %d provisional due dates again on the calendar of %s", moved, sorted(years))
        self._calendar, self._calendar_at, self._calendar_years = calendar, now, years
        return calendar

    def forget_calendar(self) -> None:
        self._calendar_at = float("-inf")

    # -- hand-in (§7.1) -------------------------------------------------------------------------
    async def hand_in(self, body: HandIn, who: Who) -> Case:
        view = await self.views.snapshot()
        catalog = view.require()
        if (body.bundle is None) == (not body.items):
            raise Refused(
                "请给出一件事（bundle）或事项清单（items），二者择一。",
                [Fault("二者择一", field="bundle")],
                code="UNKNOWN_BUNDLE",
            )
        if body.bundle is not None and body.bundle not in catalog.bundles:
            raise refused_bundling(BundleError("UNKNOWN_BUNDLE", f"目录中没有一件事“{body.bundle}”。", []))
        await self.views.locate(view, body.region)  # a township's or village's chain, by key
        if not view.knows(body.region):
            raise refused_bundling(BundleError("UNKNOWN_REGION", f"目录中没有区划 {body.region}。", []))
        items = catalog.bundles[body.bundle].items if body.bundle is not None else list(body.items or [])
        # The workflow and the slice it was composed from, kept per content: the version, the
        # bundles' revision, the bundle or items, the region and the answers (never stale).
        answers = tuple(sorted(body.answers.items()))
        key = (view.version, view.bundle_rev, body.bundle, tuple(items), body.region, answers)
        held = self._workflows.get(key)
        if held is MISSING:
            part = await self.views.slice(view, items, view.path(body.region))

        def work() -> Case:
            nonlocal held
            if held is MISSING:
                check_answers(part, body.answers)
                try:
                    workflow = compose(part, items, body.region, body.bundle, answers=body.answers)
                except BundleError as exc:
                    raise refused_bundling(exc) from None
                held = (part, workflow)
                self._workflows.put(key, held)
            plan = check(body, held[1], held[0])
            created = self.cases.create(
                body, plan, revision=view.version, today=self.clock(), calendar=self.calendar(), by=who.name
            )
            out = self._case(created.loaded, tasks=created.loaded.tasks)
            out.access = created.access
            return out

        return await self._run(work)

    # -- reading a case -------------------------------------------------------------------------
    async def read(self, case_id: str, who: Who) -> Case:
        return await self._run(self._read, case_id, who)

    def _read(self, case_id: str, who: Who) -> Case:
        loaded = self.cases.load(case_id)
        if loaded is None:
            raise CaseNotFound("没有这个办件。", [Fault("没有这个办件", field="id")])
        if who.access is not None:
            if not self.cases.access_matches(case_id, who.access):
                raise Denied("办件查询码不正确。", [Fault("查询码不正确", field="X-Case-Access")])
            return self._with_personal(loaded, loaded.tasks, who, "applicant", None)
        caller = who.caller
        if caller is None:
            raise Unauthenticated("请提供办件查询码（X-Case-Access）或令牌。")
        if caller.role == "admin":
            return self._with_personal(loaded, loaded.tasks, who, "admin", None)
        if caller.role == "agency":
            own = [t for t in loaded.tasks if t.task.agency == caller.agency]
            if not own:
                raise CaseNotFound("没有这个办件。", [Fault("没有这个办件", field="id")])
            fields = sorted({f for t in own for f in t.fields})
            return self._with_personal(loaded, own, who, "agency", fields)
        return self._case(loaded, tasks=loaded.tasks)

    def _with_personal(
        self, loaded: Loaded, tasks: list[TaskRecord], who: Who, role: str, fields: list[str] | None
    ) -> Case:
        out = self._case(loaded, tasks=tasks)
        personal = self.cases.personal([(loaded.case.id, fields)], by=who.name, role=role)[loaded.case.id]
        if personal is not None:
            out.form = personal.form
            if fields is None:
                out.applicant = personal.applicant
        return out

    def _case(self, loaded: Loaded, *, tasks: list[TaskRecord]) -> Case:
        today = self.clock()
        case = loaded.case
        return Case(
            id=case.id,
            state=case.state,
            revision=case.revision,
            due=case.due,
            due_provisional=case.due_provisional,
            overdue=case_overdue(case, today),
            region=case.region,
            bundle=case.bundle,
            channel=case.channel,
            service_point=case.service_point,
            handed_on=case.handed_on,
            ended_on=case.ended_on,
            tasks=[self._task(t) for t in tasks],
            result=None if case.state == "open" else result(tasks),
        )

    def _task(self, record: TaskRecord) -> Task:
        task = record.task
        task.overdue = task_overdue(task, self.clock())
        return task

    # -- the agency's queue and events (§7.2) ----------------------------------------------------
    async def queue(self, uscc: str, who: Who, *, state: str | None, limit: int, after: str | None) -> Queue:
        caller = who.caller
        if caller is None or not (caller.role == "admin" or caller.agency == uscc):
            raise Denied("令牌只能查看本部门的事项。", [Fault("不是本部门", field="uscc")])
        cursor = None
        if after:
            if not (after.isascii() and after.isdigit() and len(after) <= 18):
                raise Refused(
                    "翻页游标不正确。", [Fault("应为上一页给出的 next", field="after")], code="CURSOR"
                )
            cursor = int(after)
        return await self._run(self._queue, uscc, who, state, limit, cursor)

    def _queue(self, uscc: str, who: Who, state: str | None, limit: int, after: int | None) -> Queue:
        role = "admin" if who.caller is not None and who.caller.role == "admin" else "agency"
        records, nxt, personal = self.cases.queue(
            uscc, state=state, limit=limit, after=after, by=who.name, role=role
        )
        tasks = []
        for r in records:
            held = personal.get(r.case)
            base = self._task(r)
            tasks.append(
                QueuedTask(
                    **{f: getattr(base, f) for f in base.__struct_fields__},
                    case=r.case,
                    form=None if held is None else held.form,
                    materials=r.materials,
                )
            )
        return Queue(tasks=tasks, next=None if nxt is None else str(nxt))

    async def event(self, task_id: str, body: EventIn, who: Who) -> Task:
        return await self._run(self._event, task_id, body, who)

    def _event(self, task_id: str, body: EventIn, who: Who) -> Task:
        if not body.key.strip():
            raise Refused(
                "事件须带幂等键（key），重试时使用同一个键。",
                [Fault("必填，未填写", field="key")],
                code="KEY",
            )
        found = self.cases.task(task_id)
        if found is None:
            raise CaseNotFound("没有这个事项。", [Fault("没有这个事项", field="id")])
        record, case = found
        caller = who.caller
        if who.access is not None and caller is None:
            if not self.cases.access_matches(case.id, who.access):
                raise Denied("办件查询码不正确。", [Fault("查询码不正确", field="X-Case-Access")])
            if body.event != "resubmit":
                raise Denied("申请人只能补正后重新提交。", [Fault("申请人只能 resubmit", field="event")])
        elif caller is None:
            raise Unauthenticated("请提供部门令牌或办件查询码（X-Case-Access）。")
        elif not (
            caller.role == "admin" or (caller.role == "agency" and caller.agency == record.task.agency)
        ):
            raise Denied("只能办理本部门的事项。", [Fault("不是本部门的事项", field="id")])
        acted, _, replayed = self.cases.event(
            task_id, body, by=who.name, today=self.clock(), calendar=self.calendar()
        )
        # a retry answers the first answer as it was sent (a task just acted on is never overdue)
        return acted.task if replayed else self._task(acted)

    # -- ratings and rectifications (§7.3) ------------------------------------------------------
    async def rate(self, case_id: str, body: RatingIn, who: Who) -> RatingOut:
        return await self._run(self._rate, case_id, body, who)

    def _rate(self, case_id: str, body: RatingIn, who: Who) -> RatingOut:
        if who.access is None:
            raise Unauthenticated("评价须提供办件查询码（X-Case-Access）。")
        if self.cases.load(case_id) is None:
            raise CaseNotFound("没有这个办件。", [Fault("没有这个办件", field="id")])
        if not self.cases.access_matches(case_id, who.access):
            raise Denied("办件查询码不正确。", [Fault("查询码不正确", field="X-Case-Access")])
        rating, opened = self.cases.rate(case_id, body, today=self.clock(), calendar=self.calendar())
        return RatingOut(
            score=rating.score,
            comment=rating.comment,
            tasks=rating.tasks,
            rectifications=[self._rectification(r) for r in opened],
        )

    async def rating(self, case_id: str, who: Who) -> Rating | None:
        """The case's rating for its applicant (the pages show it after rating), or None."""

        def work() -> Rating | None:
            if who.access is None:
                raise Unauthenticated("请提供办件查询码（X-Case-Access）。")
            loaded = self.cases.load(case_id)
            if loaded is None or not self.cases.access_matches(case_id, who.access):
                raise Denied("办件查询码不正确。", [Fault("查询码不正确", field="X-Case-Access")])
            return loaded.rating

        return await self._run(work)

    async def rectification_labels(self, found: list[Rectification]) -> dict[int, tuple[str, str]]:
        """For people reading a list of rectifications: each one's (item name or '', agency name),
        from its case's tasks (no personal data)."""

        def work() -> dict[int, tuple[str, str]]:
            cases = {c: self.cases.load(c) for c in {r.case for r in found}}
            out = {}
            for r in found:
                loaded = cases[r.case]
                tasks = loaded.tasks if loaded is not None else []
                task = next((t.task for t in tasks if t.task.id == r.task), None)
                agency = next((t.task.agency_name for t in tasks if t.task.agency == r.agency), "")
                out[r.id] = (task.name if task is not None else "", agency)
            return out

        return await self._run(work)

    def _rectification(self, r: Rectification) -> Rectification:
        r.overdue = rectification_overdue(r, self.clock())
        return r

    async def rectify(self, rid: int, action: str, who: Who, body: AnswerIn | None = None) -> Rectification:
        return await self._run(self._rectify, rid, action, who, body)

    def _rectify(self, rid: int, action: str, who: Who, body: AnswerIn | None) -> Rectification:
        caller = who.caller
        if caller is None:
            raise Unauthenticated("请提供令牌。")
        found = self.cases.rectification(rid)
        if found is None or (caller.role == "agency" and caller.agency != found.agency):
            raise CaseNotFound("没有这条整改。", [Fault("没有这条整改", field="id")])
        if action == "answer":
            if caller.role not in ("agency", "admin"):
                raise Denied("整改由被评价的部门答复。", [Fault("须部门令牌", field="role")])
        elif caller.role not in ("reviewer", "admin") or not _within(caller, found.region):
            raise Denied("整改由其所在区划的审核人办结或退回。", [Fault("须本区划审核人令牌", field="role")])
        moved = self.cases.move_rectification(
            rid,
            action,
            by=caller.name,
            finding=body.finding if body is not None else "",
            action_text=body.action if body is not None else "",
        )
        return self._rectification(moved)

    async def rectifications(
        self, who: Who, *, state: str | None, region: str | None, agency: str | None, overdue: bool | None
    ) -> RectificationList:
        caller = who.caller
        if caller is None:
            raise Unauthenticated("请提供令牌。")
        if caller.role == "agency":
            if agency is not None and agency != caller.agency:
                raise Denied("令牌只能查看本部门的整改。", [Fault("不是本部门", field="agency")])
            agency = caller.agency
        elif caller.role == "reviewer":
            if region is None:
                region = caller.region
            elif not _within(caller, region):
                raise Denied("令牌只能查看本区划的整改。", [Fault("不在本区划内", field="region")])
        elif caller.role != "admin":
            raise Denied("整改清单供部门、审核人和管理员查看。", [Fault("角色不符", field="role")])
        found = await self._run(
            lambda: self.cases.rectifications(
                state=state, region=region, agency=agency, overdue=overdue, today=self.clock()
            )
        )
        return RectificationList([self._rectification(r) for r in found])

    # -- figures (§7.4) -------------------------------------------------------------------------
    async def figures(self, **filters: Any) -> Figures:
        return await self._run(lambda: self.cases.figures(today=self.clock(), **filters))


def _within(caller: Caller, region: str) -> bool:
    """A region inside the caller's scope (by its code's prefix; unscoped callers everywhere)."""
    from catalog.codes import region_prefix

    return caller.region is None or region.startswith(region_prefix(caller.region))


def directory_schedules(directory: Path | None) -> list[Schedule]:
    """Each `*.json` of the calendar directory as a year's schedule (one bad file is logged and
    left out, never fatal)."""
    if directory is None or not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob("*.json")):
        try:
            from casework.calendar import checked

            out.append(checked(schedule_decoder.decode(path.read_bytes())))
        except (OSError, ValueError, ScheduleError) as exc:
            log.error("calendar file %s left out: %s", path, exc)
    return out
