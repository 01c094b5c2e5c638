"""SCHEMA rules msgspec cannot express for form fields: `choices` belongs to `choice` fields only."""

from __future__ import annotations

from ..findings import Finding, finding
from ..model import Field


def field_findings(field: Field, line: int | None) -> list[Finding]:
    if field.type == "choice" and not field.choices:
        return [
            finding(
                "SCHEMA",
                "field",
                field.id,
                line,
                f"field {field.id} is of type choice but lists no `choices`",
            )
        ]
    if field.type != "choice" and field.choices is not None:
        return [
            finding(
                "SCHEMA",
                "field",
                field.id,
                line,
                f"field {field.id} is of type {field.type} and must not have `choices` (only choice fields do)",
            )
        ]
    return []
