"""Cells a spreadsheet program would evaluate, written so it does not (formula injection, OWASP's
rule) and read back exactly.

A text that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a `'` in
front (`=HYPERLINK("http://x","y")` → `'=HYPERLINK("http://x","y")`): Excel, WPS and LibreOffice
show it as text and never run it, in a CSV and in a workbook alike. So that every text comes
back as it was, a text that already begins with `'` gets one more (`'abc` → `''abc`).

Reading takes the one `'` off a cell that begins with `'` followed by one of those characters
or another `'` — exactly the cells writing marked — and leaves every other cell alone (a clerk's
own `'abc` stays `'abc`). For every text t: `plain(neutral(t)) == t`.
"""

from __future__ import annotations

QUOTE = "'"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_MARKED = (*TRIGGERS, QUOTE)


def neutral(text: str) -> str:
    """The text as a cell we write: a `'` in front when a spreadsheet would evaluate it (or when it
    begins with `'` itself)."""
    return QUOTE + text if text.startswith(_MARKED) else text


def plain(text: str) -> str:
    """A cell's text as it was before `neutral`."""
    return text[1:] if text.startswith(QUOTE) and text[1:2] in _MARKED else text
