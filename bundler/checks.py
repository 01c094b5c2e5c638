"""The bundle checks of §4.1: is it really one visit, one window, one form, with no proof
beyond the retained list, within the promised days, offered here?

Each check is a function of the composed workflow's parts; none stops the
workflow — a failed check is what a reviewer must fix. Messages are for
citizens and clerks: Chinese, with names rather than codes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from msgspec import Struct

from catalog.model import Bundle, Material, Region

from .document import Check, MaterialToBring, Metrics, PlaceToGo, Step


class Case(Struct, frozen=True, kw_only=True):
    """What the checks look at: one workflow for one applicant."""

    bundle: Bundle | None
    """The catalog bundle, None for an ad-hoc list of items."""
    chain: Sequence[str]
    """The applicant's region and its ancestors, nearest first."""
    regions: Mapping[str, Region]
    steps: Sequence[Step]
    materials: Sequence[MaterialToBring]
    dictionary: Mapping[str, Material]
    metrics: Metrics
    service_points: Sequence[PlaceToGo] = ()
    """The service points on the chain that take something of the case, nearest first (revision 3)."""


def one_visit(case: Case) -> Check:
    most = case.metrics.visits_after
    if most <= 1:
        return Check("ONE_VISIT", True, f"最多跑一次：到现场不超过 {most} 次")
    worst = "、".join(f"{s.name}（{s.visits} 次）" for s in case.steps if s.visits > 1)
    return Check("ONE_VISIT", False, f"需到现场 {most} 次，未做到最多跑一次：{worst}")


def one_window(case: Case) -> Check:
    if case.bundle is not None and case.bundle.window:
        return Check("ONE_WINDOW", True, f"一窗受理：{case.bundle.window}")
    windows = list(dict.fromkeys(s.window for s in case.steps if s.window))
    if len(windows) <= 1:
        where = f"：{windows[0]}" if windows else ""
        return Check("ONE_WINDOW", True, f"一窗受理{where}")
    point = next((p for p in case.service_points if p.takes == "bundle"), None)
    if point is not None:
        return Check("ONE_WINDOW", True, f"一窗受理：{point.name}{point.window or ''}")
    return Check(
        "ONE_WINDOW",
        False,
        f"未设一件事综合窗口，需到 {len(windows)} 个窗口分别办理：{'、'.join(windows)}",
    )


def one_form(case: Case) -> Check:
    forms = [m.name for m in case.materials if _category(case, m.id) == "form"]
    if not forms:
        return Check("ONE_FORM", True, "一表申请：各事项申请表由一张合并申请表代替")
    return Check("ONE_FORM", False, f"仍需另交申请表，未做到一表申请：{'、'.join(forms)}")


def proof(case: Case) -> Check:
    proofs = [
        m.name
        for m in case.materials
        if _category(case, m.id) == "certificate" and not case.dictionary[m.id].retained
    ]
    if not proofs:
        return Check("PROOF", True, "不索要保留证明事项清单以外的证明")
    return Check("PROOF", False, f"仍索要保留证明事项清单以外的证明：{'、'.join(proofs)}")


def target_days(case: Case) -> Check:
    target = None if case.bundle is None else case.bundle.target_days
    days = case.metrics.days_after
    if target is None:
        return Check("TARGET_DAYS", True, f"未设定办结时限目标；全部办结最长 {days} 个工作日")
    if days <= target:
        return Check("TARGET_DAYS", True, f"全部办结最长 {days} 个工作日，在承诺的 {target} 个工作日内")
    return Check("TARGET_DAYS", False, f"全部办结最长需 {days} 个工作日，超过承诺的 {target} 个工作日")


def offered(case: Case) -> Check:
    here = case.regions[case.chain[0]].name if case.chain and case.chain[0] in case.regions else ""
    if case.bundle is None or case.bundle.regions is None or set(case.bundle.regions) & set(case.chain):
        return Check("OFFERED", True, f"{here}可以办理")
    where = "、".join(case.regions[r].name if r in case.regions else r for r in case.bundle.regions)
    return Check("OFFERED", False, f"本一件事仅在{where}提供，申请人所在地不在其中")


CHECKS: tuple[Callable[[Case], Check], ...] = (one_visit, one_window, one_form, proof, target_days, offered)
"""The checks in the order of §4.1; a new check is one more function here."""


def run_checks(case: Case) -> list[Check]:
    return [check(case) for check in CHECKS]


def _category(case: Case, material: str) -> str | None:
    known = case.dictionary.get(material)
    return None if known is None else known.category
