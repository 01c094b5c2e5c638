"""The domain errors the API's services raise: each a plain exception with the spec's `code`, a
Chinese `message` (what a page shows), and what the JSON API has always said of it (`detail`,
`errors`, `items`). Which HTTP status each is, is said once, in `api.problems`; the pages say
each in their own words (`api.pages.errors`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..schemas import ErrorDetail, findings_as_errors


class ServiceError(Exception):
    code = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        errors: Sequence[ErrorDetail] = (),
        items: Sequence[str] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail if detail is not None else message
        self.errors = list(errors)
        self.items = None if items is None else list(items)
        self.headers = headers
        if code is not None:
            self.code = code


class NoCatalog(ServiceError):
    """Nothing has been published yet."""

    code = "NO_CATALOG"


class UnknownBundle(ServiceError):
    code = "UNKNOWN_BUNDLE"


class UnknownRegion(ServiceError):
    code = "UNKNOWN_REGION"


class UnknownAnswer(ServiceError):
    code = "UNKNOWN_ANSWER"


class Unbundlable(ServiceError):
    """§4's bundling error (an item not implemented on the chain, a cycle, …): `code` is its own."""


class BundleExists(ServiceError):
    code = "BUNDLE_EXISTS"


class StaleVersion(ServiceError):
    """A write based on a version of a bundle that is no longer its version."""

    code = "STALE_VERSION"


class InvalidBundle(ServiceError):
    code = "INVALID_BUNDLE"


class InvalidCatalog(ServiceError):
    """A publish refused for its error findings (a sheet that cannot be read: INVALID_SHEET)."""

    code = "INVALID_CATALOG"


class TooManyRows(ServiceError):
    code = "TOO_MANY_ROWS"


class NotFound(ServiceError):
    """No such record (a version, a submission, an item, a token …): `errors` names its kind."""

    code = "NOT_FOUND"


class OutOfScope(ServiceError):
    """The caller's token acts within a region; what it asked for lies outside it."""

    code = "OUT_OF_SCOPE"


class NotPending(ServiceError):
    """A submission already approved or rejected."""

    code = "NOT_PENDING"


class OwnSubmission(ServiceError):
    """Four eyes: the submitter cannot approve their own submission."""

    code = "OWN_SUBMISSION"


class TooLarge(ServiceError):
    code = "BODY_TOO_LARGE"


def no_catalog() -> NoCatalog:
    return NoCatalog(
        "尚未发布目录：审查人员可通过 PUT /catalog 或 onething import 发布。",
        detail="no catalog has been published yet (PUT /catalog as a reviewer)",
    )


def unknown_region(region: str) -> UnknownRegion:
    return UnknownRegion(
        f"目录中没有区划 {region}。",
        detail=f"no region {region!r} in the catalog",
        errors=[ErrorDetail(message="no such region", field="region", source="query", key=region)],
    )


def unknown_bundle(bundle_id: str) -> UnknownBundle:
    return UnknownBundle(
        f"没有这个一件事（{bundle_id}）：它可能已被删除，或链接有误。",
        detail=f"no bundle {bundle_id!r}",
        errors=[ErrorDetail(message="no such bundle", kind="bundle", key=bundle_id)],
    )


def not_found(what: str, key: str) -> NotFound:
    return NotFound(
        f"没有这个记录（{key}）。",
        detail=f"no {what} {key!r}",
        errors=[ErrorDetail(message="not found", kind=what, key=key)],
    )


def refused(findings: Sequence[Any], message: str, code: str = "INVALID_CATALOG") -> InvalidCatalog:
    errors = [f for f in findings if f.severity == "error"]
    return InvalidCatalog(
        f"有 {len(errors)} 个错误，未发布。",
        detail=message.format(n=len(errors)),
        errors=findings_as_errors(errors[:1000]),
        code=code,
    )


def stale(bundle_id: str, if_version: int, current: int, name: str | None = None) -> StaleVersion:
    """A write based on a version that is no longer the bundle's: said in Chinese, by its name."""
    what = f"一件事“{name}”" if name else f"一件事 {bundle_id}"
    return StaleVersion(
        f"{what}已被他人修改，现在是第 {current} 版，不是您读取时的第 {if_version} 版："
        "请重新读取后再修改，以免覆盖他人的更改。",
        errors=[ErrorDetail(message=f"当前是第 {current} 版", field="If-Match", source="header")],
        headers={"ETag": f'"{current}"'},
    )
