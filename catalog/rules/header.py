"""HEADER: the one header record and its format (§1)."""

from __future__ import annotations

from ..findings import Finding, finding
from ..model import FORMAT, Header
from ..wording import quoted


def header_findings(header: Header, line: int | None) -> list[Finding]:
    """A header must name exactly this format; a placeholder (no format, no version) means none was given."""
    if header.format == FORMAT:
        return []
    if header.format == "" and header.version == "":
        message = f'目录缺少文件头：第一条记录应为 {{"kind":"catalog","format":"{FORMAT}",…}}。'
    else:
        message = f"文件头的格式为{quoted(header.format)}，应为{quoted(FORMAT)}。"
    return [finding("HEADER", "catalog", None, line, message)]
