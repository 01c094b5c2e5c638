"""Workflows and guides of §4: composed from the slice they need — the bundle's items'
implementations along one region chain — and cached by content.

Workflows are cached under keys that name their content (the version's tag, the bundle record
and version, the region), so an entry is never stale; with Redis they are shared between
instances, and an outage only costs recomputation. In front of the shared cache, the newest
bodies are kept in this process. The applicant's answers (§4 step 0) are part of a workflow's
content: `answers(view, given)` checks and sorts them, and they enter the key and the ETag.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from bundler.document import BundleProblem
from catalog.model import Catalog, record_encoder

from ..schemas import ErrorDetail
from ..view import Answers, View, Views
from ..view import etag_digest as _digest
from .base import off_loop
from .errors import Unbundlable, UnknownAnswer, UnknownBundle, unknown_region
from .errors import unknown_bundle as _unknown_bundle

if TYPE_CHECKING:
    from litestar.stores.base import Store as CacheStore

    from bundler import Workflow

log = logging.getLogger("onething.api")


def _code_tag() -> str:
    """A digest of the bundler's code and templates: a workflow or guide cached by a release
    whose bundling or rendering differs is not served by this one (Redis outlives deploys)."""
    import bundler

    h = hashlib.blake2b(digest_size=6)
    root = Path(bundler.__file__).parent
    for path in sorted([*root.glob("*.py"), *root.glob("templates/*.html")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


CODE_TAG = _code_tag()


@dataclass
class Computed:
    """A computed (or cached) workflow or guide body."""

    body: bytes
    etag: str
    hit: bool
    status: int = 200
    media_type: str = "application/json"


class WorkflowService:
    """Workflows, guides and ad-hoc workflows through the two-level cache."""

    def __init__(
        self, views: Views, cache: CacheStore, *, cache_ttl: int = 86_400, cache_kind: str = "memory"
    ):
        self.views = views
        self.cache = cache
        self.cache_ttl = cache_ttl
        self.cache_kind = cache_kind
        self._local: OrderedDict[str, bytes] = OrderedDict()
        """Newest workflow bodies, in front of the shared cache. Keys name their content (version
        tag, bundle version, region), so an entry is never stale: no invalidation needed here."""

    _run = staticmethod(off_loop)

    def answers(self, view: View, given: Mapping[str, str], source: str = "query") -> Answers:
        """The applicant's answers, each to a question of the catalog with one of its answers
        (the bundler's rule), sorted: what cache keys and ETags are made of. UnknownAnswer
        naming the first that is not, in words a clerk reads."""
        from bundler import BundleError, checked_answers

        catalog = view.require()
        for question, answer in given.items():
            try:
                checked_answers(catalog, {question: answer})
            except BundleError:
                raise unknown_answer(catalog, question, answer, source) from None
        return tuple(sorted(given.items()))

    def workflow_etag(
        self, view: View, bundle_id: str, region: str, what: str = "workflow", answers: Answers = ()
    ) -> str | None:
        """The ETag a bundle's workflow (or guide) has now, without computing it; None if unknown."""
        known = view.etags.get((bundle_id, region, what, answers))
        if known is not None:
            return known
        version = view.versions.get(bundle_id)
        if version is None or view.catalog is None or not view.knows(region):
            return None
        # Content-addressed: the version's tag, the bundle record itself and the situation.
        bundle = record_encoder.encode(view.catalog.bundles[bundle_id])
        etag = f'"{what[0]}{_digest(CODE_TAG, view.tag, bundle, version, region, what, *_flat(answers))}"'
        if len(view.etags) < 100_000:
            view.etags[(bundle_id, region, what, answers)] = etag
        return etag

    async def workflow(
        self,
        bundle_id: str,
        region: str,
        view: View | None = None,
        answers: Answers = (),
        *,
        etag: str | None = None,
        part: Callable[[], Awaitable[Catalog]] | None = None,
    ) -> Computed:
        """`view`: the view the caller already holds (one heads check per request); `answers`:
        as `answers()` returns them; `etag`: the workflow's, when the caller has it already;
        `part`: how to read the slice (the guide's, read once for both)."""
        view = view or await self.views.snapshot()
        etag = etag or self._etag(view, bundle_id, region, "workflow", answers)
        from bundler import compose_bundle

        bundle = view.require().bundles[bundle_id]
        given = dict(answers)
        read = part or (lambda: self.views.slice(view, bundle.items, view.path(region)))

        async def compute() -> bytes:
            sliced = await read()
            return await self._run(
                _outcome, lambda: compose_bundle(sliced, bundle_id, region, answers=given), view.version
            )

        return _answered(
            await self.get_or_compute("workflow:" + etag.strip('"'), self.cache_ttl, compute), etag
        )

    async def adhoc_workflow(
        self, items: list[str], region: str, answers: Mapping[str, str] | None = None
    ) -> Computed:
        from bundler import compose

        view = await self.views.snapshot()
        await self.views.locate(view, region)
        normalised = self.answers(view, answers or {}, "body")
        given = dict(normalised)
        etag = f'"a{_digest(CODE_TAG, view.tag, region, *items, "answers", *_flat(normalised))}"'

        async def compute() -> bytes:
            sliced = await self.views.slice(view, items, view.path(region))
            return await self._run(
                _outcome, lambda: compose(sliced, items, region, answers=given), view.version
            )

        ttl = min(self.cache_ttl, 3600)
        return _answered(await self.get_or_compute("workflow:" + etag.strip('"'), ttl, compute), etag)

    async def guide(
        self, bundle_id: str, region: str, view: View | None = None, answers: Answers = ()
    ) -> Computed:
        view = view or await self.views.snapshot()
        etag = self._etag(view, bundle_id, region, "guide", answers)
        items = view.require().bundles[bundle_id].items
        sliced: list[Catalog] = []

        async def part() -> Catalog:
            """The slice, read at most once for the workflow and its rendering."""
            if not sliced:
                sliced.append(await self.views.slice(view, items, view.path(region)))
            return sliced[0]

        # raises the bundling problem, if any
        workflow = await self.workflow(bundle_id, region, view, answers, part=part)

        async def render() -> bytes:
            return await self._run(_render_guide, await part(), workflow.body)

        body, hit = await self.get_or_compute("guide:" + etag.strip('"'), self.cache_ttl, render)
        return Computed(body, etag, hit=hit, media_type="text/html; charset=utf-8")

    def _etag(self, view: View, bundle_id: str, region: str, what: str, answers: Answers) -> str:
        """The ETag, or the problem of a bundle or region the view does not have."""
        etag = self.workflow_etag(view, bundle_id, region, what, answers)
        if etag is None:
            self._bundle_region_problem(view, bundle_id, region)
        assert etag is not None
        return etag

    async def get_or_compute(
        self, key: str, ttl: int, compute: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, bool]:
        """The body kept under `key` (this process's copy, else the shared cache), or `compute()`'s,
        kept for `ttl` seconds; and whether it was kept (a hit)."""
        cached = await self._get(key)
        if cached is not None:
            return cached, True
        body = await compute()
        await self._set(key, body, ttl)
        return body, False

    LOCAL_ENTRIES = 512

    async def _get(self, key: str) -> bytes | None:
        body = self._local.get(key)
        if body is not None:
            self._local.move_to_end(key)
            return body
        try:
            body = await self.cache.get(key)
        except Exception:  # a cache outage costs a recomputation, never a 500
            log.warning("workflow cache unavailable (get %s)", key, exc_info=True)
            return None
        if body is not None:
            self._remember(key, body)
        return body

    async def _set(self, key: str, body: bytes, ttl: int) -> None:
        self._remember(key, body)
        try:
            await self.cache.set(key, body, expires_in=ttl)
        except Exception:  # as above
            log.warning("workflow cache unavailable (set %s)", key, exc_info=True)

    def _remember(self, key: str, body: bytes) -> None:
        self._local[key] = body
        if len(self._local) > self.LOCAL_ENTRIES:
            self._local.popitem(last=False)

    @staticmethod
    def _bundle_region_problem(view: View, bundle_id: str, region: str) -> None:
        view.require()  # no catalog: its own problem first
        if bundle_id not in view.versions:
            raise _unknown_bundle(bundle_id)
        if not view.knows(region):
            raise unknown_region(region)


def _flat(answers: Answers) -> list[str]:
    return [f"{question}={answer}" for question, answer in answers]


def unknown_answer(catalog: Catalog, question: str, answer: str, source: str) -> UnknownAnswer:
    """UNKNOWN_ANSWER (§4) as a problem whose detail a clerk reads: which question or answer is
    not in the catalog, and what the question offers."""
    defined = catalog.questions.get(question)
    if defined is None:
        detail = f"目录中没有情形问题“{question}”"
    else:
        offered = "、".join(f"{a}（{text}）" for a, text in defined.answers.items())
        detail = f"情形问题“{defined.text}”（{question}）没有答案“{answer}”，可选：{offered}"
    return UnknownAnswer(
        detail,
        errors=[ErrorDetail(message=detail, field="answers", source=source, kind="question", key=question)],
    )


def _with_revision(workflow: Workflow, version: int) -> Workflow:
    return msgspec.structs.replace(workflow, revision=version)


def _render_guide(catalog: Catalog, workflow_json: bytes) -> bytes:
    from bundler import Workflow, render_guide

    workflow = msgspec.json.decode(workflow_json, type=Workflow)
    return render_guide(workflow, catalog).encode()


class Composed(msgspec.Struct, frozen=True, tag="workflow"):
    """A composed workflow, kept as its JSON document (the response body, sent as it is)."""

    workflow: msgspec.Raw


class Refused(msgspec.Struct, frozen=True, tag="problem"):
    """Why the workflow cannot be composed: §4's error object."""

    problem: BundleProblem


Outcome = Composed | Refused
"""What the workflow cache keeps under a workflow's ETag: one or the other, tagged."""
_outcome_decoder = msgspec.json.Decoder(Outcome)


def _outcome(compose: Callable[[], Workflow], version: int) -> bytes:
    """The composed workflow (with the view's `revision`), or the bundling problem, encoded."""
    from bundler import BundleError

    try:
        workflow = _with_revision(compose(), version)
    except BundleError as exc:
        return msgspec.json.encode(Refused(exc.problem))
    return msgspec.json.encode(Composed(msgspec.Raw(msgspec.json.encode(workflow))))


def _answered(kept: tuple[bytes, bool], etag: str) -> Computed:
    """The workflow's body, or its bundling problem raised as the domain error it is."""
    body, hit = kept
    outcome = _outcome_decoder.decode(body)
    if isinstance(outcome, Refused):
        problem = outcome.problem
        error = UnknownBundle if problem.error == "UNKNOWN_BUNDLE" else Unbundlable
        raise error(
            problem.message,
            code=problem.error,
            items=problem.items,
            errors=[ErrorDetail(message=problem.message, kind="item", key=i) for i in problem.items],
        )
    return Computed(bytes(outcome.workflow), etag, hit)
