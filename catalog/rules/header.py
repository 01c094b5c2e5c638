"""HEADER: the one header record and its format (§1)."""

from __future__ import annotations

from ..findings import Finding, finding
from ..model import FORMAT, Header


def header_findings(header: Header, line: int | None) -> list[Finding]:
    """A header must name exactly this format; a placeholder (no format, no version) means none was given."""
    if header.format == FORMAT:
        return []
    if header.format == "" and header.version == "":
        message = (
            f'the catalog has no header; its first record must be {{"kind":"catalog","format":"{FORMAT}",…}}'
        )
    else:
        message = f"header format is {header.format!r}, expected {FORMAT!r}"
    return [finding("HEADER", "catalog", None, line, message)]
