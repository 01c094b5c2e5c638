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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import msgspec

from catalog.model import Catalog, record_encoder

from ..schemas import ErrorDetail
from ..view import Answers, View, Views
from ..view import etag_digest as _digest
from .errors import Unbundlable, UnknownAnswer, UnknownBundle, unknown_region
from .errors import unknown_bundle as _unknown_bundle

if TYPE_CHECKING:
    from litestar.stores.base import Store as CacheStore

    from bundler import Workflow

log = logging.getLogger("onething.api")


# Bundling error (§4) → HTTP status.

_WORKFLOW = b"W"
_PROBLEM = b"P"


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

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args)

    def answers(self, view: View, given: Mapping[str, str], source: str = "query") -> Answers:
        """The applicant's answers, each to a question of the catalog with one of its answers
        (the bundler's rule), sorted: what cache keys and ETags are made of. 422 UNKNOWN_ANSWER
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
        if version is None or view.catalog is None or region not in view.catalog.regions:
            return None
        # Content-addressed: the version's tag, the bundle record itself and the situation.
        bundle = record_encoder.encode(view.catalog.bundles[bundle_id])
        etag = f'"{what[0]}{_digest(CODE_TAG, view.tag, bundle, version, region, what, *_flat(answers))}"'
        if len(view.etags) < 100_000:
            view.etags[(bundle_id, region, what, answers)] = etag
        return etag

    async def workflow(
        self, bundle_id: str, region: str, view: View | None = None, answers: Answers = ()
    ) -> Computed:
        """`view`: the view the caller already holds (one heads check per request); `answers`:
        as `answers()` returns them."""
        view = view or await self.views.snapshot()
        view.require()
        etag = self.workflow_etag(view, bundle_id, region, "workflow", answers)
        if etag is None:
            self._bundle_region_problem(view, bundle_id, region)
        assert etag is not None
        from bundler import compose_bundle

        bundle = view.require().bundles[bundle_id]
        given = dict(answers)

        async def compose() -> Callable[[], Workflow]:
            part = await self.views.slice(view, bundle.items, view.path(region))
            return lambda: _with_revision(
                compose_bundle(part, bundle_id, region, answers=given), view.version
            )

        return await self._workflow_through_cache(etag, self.cache_ttl, compose)

    async def adhoc_workflow(
        self, items: list[str], region: str, answers: Mapping[str, str] | None = None
    ) -> Computed:
        from bundler import compose

        view = await self.views.snapshot()
        normalised = self.answers(view, answers or {}, "body")
        given = dict(normalised)
        etag = f'"a{_digest(CODE_TAG, view.tag, region, *items, "answers", *_flat(normalised))}"'

        async def composing() -> Callable[[], Workflow]:
            part = await self.views.slice(view, items, view.path(region))
            return lambda: _with_revision(compose(part, items, region, answers=given), view.version)

        return await self._workflow_through_cache(etag, min(self.cache_ttl, 3600), composing)

    async def _workflow_through_cache(self, etag: str, ttl: int, prepare: Callable[[], Any]) -> Computed:
        """The cached workflow for this ETag, or one composed off the event loop and cached."""
        key = "wf:" + etag.strip('"')
        cached = await self._get(key)
        if cached is not None:
            return self._unpack(cached, etag, hit=True)
        compose = await prepare()
        packed = await self._run(self._pack, compose)
        await self._set(key, packed, ttl)
        return self._unpack(packed, etag, hit=False)

    async def guide(
        self, bundle_id: str, region: str, view: View | None = None, answers: Answers = ()
    ) -> Computed:
        view = view or await self.views.snapshot()
        etag = self.workflow_etag(view, bundle_id, region, "guide", answers)
        # raises the bundling problem, if any
        workflow = await self.workflow(bundle_id, region, view, answers)
        assert etag is not None
        key = "guide:" + etag.strip('"')
        cached = await self._get(key)
        if cached is not None:
            return Computed(cached, etag, hit=True, media_type="text/html; charset=utf-8")
        part = await self.views.slice(view, view.require().bundles[bundle_id].items, view.path(region))
        body = await self._run(_render_guide, part, workflow.body)
        await self._set(key, body, self.cache_ttl)
        return Computed(body, etag, hit=False, media_type="text/html; charset=utf-8")

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
        catalog = view.require()
        if bundle_id not in view.versions:
            raise _unknown_bundle(bundle_id)
        if region not in catalog.regions:
            raise unknown_region(region)

    @staticmethod
    def _pack(compose: Callable[[], Workflow]) -> bytes:
        """The composed workflow, or the bundling problem, as the bytes the cache keeps."""
        from bundler import BundleError

        try:
            workflow = compose()
        except BundleError as exc:
            return _PROBLEM + msgspec.json.encode(exc.problem)
        return _WORKFLOW + msgspec.json.encode(workflow)

    @staticmethod
    def _unpack(packed: bytes, etag: str, hit: bool) -> Computed:
        if packed[:1] == _PROBLEM:
            error = msgspec.json.decode(packed[1:])
            code = str(error.get("error", "BUNDLE_ERROR"))
            items = [str(i) for i in error.get("items", [])]
            raise (UnknownBundle if code == "UNKNOWN_BUNDLE" else Unbundlable)(
                str(error.get("message", "")),
                code=code,
                items=items,
                errors=[
                    ErrorDetail(message=str(error.get("message", "")), kind="item", key=i) for i in items
                ],
            )
        return Computed(packed[1:], etag, hit)


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
