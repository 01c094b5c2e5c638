"""The workflow document of §4 and the error object, as msgspec Structs.

`msgspec.json.encode(workflow)` is exactly the spec's JSON: field names and
order as printed there. Steps carry a few extra fields (item name, region,
window, predecessors, finishing day) because portals and the printed guide
need them; every spec field keeps its spec name and type.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Struct

Reason = Literal["internal", "e_license", "commitment", "merged_form"]
CheckName = Literal["ONE_VISIT", "ONE_WINDOW", "ONE_FORM", "PROOF", "TARGET_DAYS", "OFFERED"]


class Step(Struct, frozen=True, gc=False, omit_defaults=True):
    item: str
    implementation: str
    agency: str
    stage: int
    promised_days: int
    visits: int
    name: str
    """The item's name (四同: the same at every level)."""
    region: str
    """Where the implementation resolved: the applicant's region or an ancestor."""
    window: str
    address: str
    hours: str
    phone: str
    fee: float
    """In yuan."""
    basis: list[str]
    """The item's legal basis (四同: the same at every level)."""
    after: list[str]
    """The bundle items that precede this one (it needs their outputs or requires them)."""
    finish_day: int
    """Working days from the start until this item is done, waiting for its predecessors."""
    channels: list[str] | None = None
    """Where the item can be applied for (revision 3): present when the implementation states its
    channels (the default, window plus online from depth 3 on, is `catalog.model.channels_of`)."""


class MaterialToBring(Struct, frozen=True, gc=False, omit_defaults=True):
    id: str
    name: str
    for_: list[str] = msgspec.field(name="for")
    """`<item>#<req>` of every remaining requirement this material meets."""
    deferrable: bool = False
    """True when every requirement it is for is deferrable (容缺受理: the case is taken without it)."""


class Waived(Struct, frozen=True, gc=False):
    requirement: str
    material: str
    reason: Reason
    from_: str | None = msgspec.field(name="from")
    """The item whose output meets the requirement (internal); null otherwise."""


class OptionalRequirement(Struct, frozen=True, gc=False):
    requirement: str
    any_of: list[str]


class FormField(Struct, frozen=True, gc=False, omit_defaults=True):
    id: str
    label: str
    type: str
    items: list[str]
    choices: list[str] | None = None


class Metrics(Struct, frozen=True, gc=False):
    materials_before: int
    materials_after: int
    visits_before: int
    visits_after: int
    days_before: int
    days_after: int
    forms_before: int
    forms_after: int
    fields_before: int
    fields_after: int
    fees: float
    """Σ fee of the steps, in yuan."""


class OpenQuestion(Struct, frozen=True, gc=False):
    """A question the workflow still waits on: answering it settles some conditional part."""

    id: str
    text: str
    answers: dict[str, str]


class Conditional(Struct, frozen=True, gc=False, kw_only=True, omit_defaults=True):
    """An item (`item`) or a requirement (`requirement`, `any_of`) that applies only in a
    situation not yet known: out of the steps, the minimum and the metrics until answered."""

    requirement: str | None = None
    item: str | None = None
    any_of: list[str] | None = None
    when: dict[str, list[str]]


class Check(Struct, frozen=True, gc=False):
    """One bundle check of §4.1 for the applicant's region and answers; the message is for
    citizens and clerks (Chinese, names rather than codes)."""

    check: CheckName
    passed: bool
    message: str


class PlaceToGo(Struct, frozen=True, gc=False):
    """A service point on the applicant's region chain that takes some of the case (revision 3)."""

    id: str
    name: str
    region: str
    address: str
    hours: str
    phone: str
    window: str | None
    """The window that takes the whole case (or, for single items, the one window taking them)."""
    takes: Literal["bundle", "items"]
    """`bundle`: one window takes the whole bundle, or every step's item; else only `items`."""
    items: list[str]
    """The step items its windows take."""
    assists: list[str]
    """The step items it takes in on the applicant's behalf (代办、帮办)."""


class Workflow(Struct, frozen=True, kw_only=True, omit_defaults=True):
    bundle: str | None
    """The bundle id, null for an ad-hoc list of items."""
    region: str
    catalog_version: str
    steps: list[Step]
    stages: list[list[str]]
    materials: list[MaterialToBring]
    waived: list[Waived]
    optional: list[OptionalRequirement]
    form: list[FormField]
    metrics: Metrics
    optimal: bool
    lower_bound: int | None = None
    """Present only when a time limit stopped the solver: the proven minimum is at least this."""
    answers: dict[str, str]
    """The applicant's answers the workflow was composed for."""
    questions: list[OpenQuestion]
    conditional: list[Conditional]
    checks: list[Check]
    service_points: list[PlaceToGo] = []
    """Revision 3: where the case can be handed in, nearest first (absent when nowhere is known)."""
    revision: int | None = None
    """The store version the workflow was computed on (§6); absent for a file's catalog."""


ErrorCode = Literal[
    "NOT_IMPLEMENTED", "CYCLE", "UNKNOWN_ITEM", "UNKNOWN_REGION", "UNKNOWN_BUNDLE", "UNKNOWN_ANSWER"
]


class BundleProblem(Struct, frozen=True, gc=False):
    """Why a bundle cannot be composed: §4's error object."""

    error: ErrorCode
    message: str
    items: list[str]


class BundleError(Exception):
    """Bundling is impossible; `.problem` is the error object to show or send."""

    def __init__(self, error: ErrorCode, message: str, items: list[str]) -> None:
        super().__init__(message)
        self.problem = BundleProblem(error, message, items)
