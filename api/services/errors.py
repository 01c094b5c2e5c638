"""The errors the API's services raise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..problems import ErrorDetail, ProblemException, findings_as_errors


def unknown_region(region: str) -> ProblemException:
    return ProblemException(
        422,
        "UNKNOWN_REGION",
        f"no region {region!r} in the catalog",
        errors=[ErrorDetail(message="no such region", field="region", source="query", key=region)],
    )


def unknown_bundle(bundle_id: str) -> ProblemException:
    return ProblemException(
        404,
        "UNKNOWN_BUNDLE",
        f"no bundle {bundle_id!r}",
        errors=[ErrorDetail(message="no such bundle", kind="bundle", key=bundle_id)],
    )


def refused(findings: Sequence[Any], message: str, code: str = "INVALID_CATALOG") -> ProblemException:
    errors = [f for f in findings if f.severity == "error"]
    return ProblemException(
        422, code, message.format(n=len(errors)), errors=findings_as_errors(errors[:1000])
    )


def stale(bundle_id: str, if_version: int, current: int, name: str | None = None) -> ProblemException:
    """A write based on a version that is no longer the bundle's: said in Chinese, by its name."""
    what = f"一件事“{name}”" if name else f"一件事 {bundle_id}"
    return ProblemException(
        412,
        "STALE_VERSION",
        f"{what}已被他人修改，现在是第 {current} 版，不是您读取时的第 {if_version} 版："
        "请重新读取后再修改，以免覆盖他人的更改。",
        errors=[ErrorDetail(message=f"当前是第 {current} 版", field="If-Match", source="header")],
        headers={"ETag": f'"{current}"'},
    )
