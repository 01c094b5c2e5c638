"""Where in the sheet a finding is: its worksheet, row and column.

A sheet becomes a partial submission whose line numbers are the sheet's row numbers (the
header on line 1, row n on line n, a blank line for a row that is not an implementation), so a
finding of the store names its row already; its rule, and for materials the requirement or
material its message names, tell the column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..findings import Finding, Severity
from .columns import BY_FIELD, NOTES_SHEET, POINTS_SHEET

RULE_FIELD = {
    "FOUR_SAME_NAME": "name",
    "FOUR_SAME_TYPE": "type",
    "FOUR_SAME_BASIS": "basis",
    "USCC": "agency.uscc",
    "IMPL_CODE": "code",
    "DUPLICATE": "code",
    "LEVEL": "region",
    "SCOPE": "region",
}
"""The column a rule's finding is about, where it is always the same one."""
_FIELD_IN_MESSAGE = re.compile(r"字段 (?:[^\x00-\x7f（]+（)?([a-z_]+)")
"""The field a SCHEMA message names: `字段 跑动次数（visits）…`, `字段 colour…` (catalog/wording.py)."""
_QUOTED = re.compile(r"“([^”]*)”")


class SheetFinding(Finding, frozen=True, gc=False):
    """A finding with its place in the sheet: `sheet` (the worksheet; None for CSV), `row` (1 is
    the header), `column` (its letter) and `label` (its header). `line` is the row as well — the
    line of the partial submission the sheet became — except on the 说明 and 服务场所 worksheets."""

    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    label: str | None = None


def sheet_finding(
    rule: str,
    message: str,
    *,
    sheet: str | None,
    row: int | None = None,
    column: str | None = None,
    label: str | None = None,
    kind: str = "sheet",
    key: str | None = None,
    severity: Severity = "error",
) -> SheetFinding:
    return SheetFinding(
        rule=rule,
        severity=severity,
        kind=kind,
        key=key,
        line=None if sheet in (NOTES_SHEET, POINTS_SHEET) else row,
        message=message,
        sheet=sheet,
        row=row,
        column=column,
        label=label,
    )


@dataclass
class RowOrigin:
    code: str
    item: str
    region: str
    requirements: list[tuple[str, frozenset[str], str, str]] = field(default_factory=list)
    """(req, the materials, questions and answers it names, column letter, label) of each
    requirement cell of the row."""


@dataclass
class Origin:
    """What a read sheet remembers to place the store's findings: the worksheet, each fixed
    field's column (letter, label) as the header has them, and per row what it held."""

    sheet: str | None
    columns: dict[str, tuple[str, str]] = field(default_factory=dict)
    rows: dict[int, RowOrigin] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)

    def locate(self, found: Finding) -> SheetFinding:
        if isinstance(found, SheetFinding):
            return found
        row = found.line if found.line in self.rows else self.codes.get(found.key or "")
        held = self.rows.get(row) if row is not None else None
        place = self._column(found, held) if held is not None else None
        letter, label = place if place is not None else (None, None)
        return SheetFinding(
            rule=found.rule,
            severity=found.severity,
            kind=found.kind,
            key=found.key,
            line=row if row is not None else found.line,
            message=found.message,
            sheet=self.sheet if row is not None else None,
            row=row,
            column=letter,
            label=label,
        )

    def locate_all(self, found: Iterable[Finding]) -> list[SheetFinding]:
        return [self.locate(f) for f in found]

    def _column(self, found: Finding, held: RowOrigin) -> tuple[str, str] | None:
        message = found.message
        name = RULE_FIELD.get(found.rule)
        if found.rule == "TIME_LIMIT":
            name = "promised_days" if "超过了" in message else "statutory_days"
        elif found.rule in ("MATERIAL_ADDED", "UNKNOWN_REF"):
            quoted = _QUOTED.findall(message)
            for req, materials, letter, label in held.requirements:
                if req in quoted or materials.intersection(quoted):
                    return letter, label
            if found.rule == "UNKNOWN_REF":
                if f"事项“{held.item}”" in message:
                    name = "item"
                elif f"区划“{held.region}”" in message:
                    name = "region"
            elif held.requirements:
                return held.requirements[0][2:]
        elif found.rule == "SCHEMA":
            named = _FIELD_IN_MESSAGE.search(message)
            if named is not None:
                named_field = named.group(1)
                name = {"agency": "agency.name", "materials": "as_item"}.get(named_field, named_field)
        if name is None or name not in BY_FIELD:
            return None
        return self.columns.get(name)
