"""SCHEMA rules msgspec cannot express for form fields: `choices` belongs to `choice` fields only."""

from __future__ import annotations

from ..findings import Finding, about
from ..model import Field
from ..wording import named


def field_findings(field: Field, line: int | None) -> list[Finding]:
    say = about("field", field.id, line)
    if field.type == "choice" and not field.choices:
        return [
            say(
                "SCHEMA",
                f"{named('field', field.id, field.label)}的类型为 choice（选择），却没有列出选项（choices）。",
            )
        ]
    if field.type != "choice" and field.choices is not None:
        return [
            say(
                "SCHEMA",
                f"{named('field', field.id, field.label)}的类型为 {field.type}，不应有选项（choices），只有 choice 类型才有。",
            )
        ]
    return []
