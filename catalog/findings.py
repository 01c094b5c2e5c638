"""What validation reports: findings (§3), per-region conformity and the report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from msgspec import Struct

Severity = Literal["error", "warning"]

# The fixed rule ids of §3 and their severities: the one place they are listed.
RULES: dict[str, Severity] = {
    "SCHEMA": "error",
    "HEADER": "error",
    "DUPLICATE": "error",
    "UNKNOWN_REF": "error",
    "REGION_CODE": "error",
    "REGION_PARENT": "error",
    "ITEM_CODE": "error",
    "SUBITEM": "error",
    "USCC": "error",
    "IMPL_CODE": "error",
    "FOUR_SAME_NAME": "error",
    "FOUR_SAME_TYPE": "error",
    "FOUR_SAME_BASIS": "error",
    "LEVEL": "error",
    "SCOPE": "error",
    "MATERIAL_ADDED": "error",
    "TIME_LIMIT": "error",
    "CYCLE": "error",
    "BUNDLE": "error",
    "ORPHAN_ITEM": "warning",
    "ONLINE_VISITS": "warning",
    "PROOF_DEMANDED": "warning",
}

# An implementation conforms to 四同 when it keeps the item's name, type, basis and code.
FOUR_SAME_RULES = ("FOUR_SAME_NAME", "FOUR_SAME_TYPE", "FOUR_SAME_BASIS", "IMPL_CODE")


class Finding(Struct, frozen=True, gc=False):
    rule: str
    severity: Severity
    kind: str
    key: str | None
    line: int | None
    message: str


def finding(rule: str, kind: str, key: str | None, line: int | None, message: str) -> Finding:
    """A finding with the severity its rule id fixes."""
    return Finding(rule, RULES[rule], kind, key, line, message)


def about(kind: str, key: str | None, line: int | None) -> Callable[[str, str], Finding]:
    """`finding` for one record: its kind, key and line said once, then `say(rule, message)`."""

    def say(rule: str, message: str) -> Finding:
        return finding(rule, kind, key, line, message)

    return say


class Conformity(Struct, frozen=True, gc=False):
    region: str
    implementations: int
    conforming: int


class Summary(Struct, frozen=True):
    errors: int
    warnings: int


class Report(Struct):
    """`onething validate --json` prints exactly this (§5)."""

    findings: list[Finding]
    conformity: list[Conformity]
    summary: Summary

    @property
    def ok(self) -> bool:
        return self.summary.errors == 0
