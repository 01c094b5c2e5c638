"""The command line's tables line up on a terminal, where a Chinese character takes two columns."""

from __future__ import annotations

import unicodedata

from onething.commands.stats import _cell


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_a_cell_takes_its_width_in_terminal_columns():
    assert _cell("银川市", 16) == "银川市" + " " * 10
    assert _cell("bank-card", 12) == "bank-card   "
    cut = _cell("国有建设用地使用权出让合同", 20)
    assert cut == "国有建设用地使用权出" and _columns(cut) == 20
    assert _columns(_cell("工程竣工验收报告x", 15)) == 15  # a wide character never half fits
