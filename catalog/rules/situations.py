"""The situations (情形) of §1: `when` conditions name defined questions and their answers
(UNKNOWN_REF), and an implementation may narrow an item's condition but never widen or drop
it (MATERIAL_ADDED: a requirement that applies in more situations is a requirement added)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ..findings import Finding, finding
from ..model import Question

When = Mapping[str, list[str]]


def when_ref_findings(
    kind: str,
    key: str,
    line: int | None,
    who: str,
    when: When,
    questions: Mapping[str, Question],
    broken: Collection[str] = (),
) -> list[Finding]:
    """UNKNOWN_REF for each question of `when` that is not defined, or answer it does not offer.

    `who` names the record and the place of the condition in messages; a question whose record
    failed to decode (`broken`) is not unknown.
    """
    out = []
    for question, answers in when.items():
        if question in broken:
            continue
        defined = questions.get(question)
        if defined is None:
            out.append(
                finding(
                    "UNKNOWN_REF", kind, key, line, f"{who}：适用情形中的问题“{question}”未在目录中定义。"
                )
            )
            continue
        for answer in dict.fromkeys(answers):
            if answer not in defined.answers:
                offered = "、".join(f"“{text}”（{a}）" for a, text in defined.answers.items())
                out.append(
                    finding(
                        "UNKNOWN_REF",
                        kind,
                        key,
                        line,
                        f"{who}：问题“{defined.text}”（{question}）没有答案“{answer}”，可选答案为{offered}。",
                    )
                )
    return out


def widened(item_when: When, impl_when: When) -> list[str]:
    """The item's questions whose condition the implementation drops or widens (sorted);
    narrowing — fewer answers, more questions — only reduces."""
    return sorted(
        question
        for question, answers in item_when.items()
        if question not in impl_when or not set(impl_when[question]) <= set(answers)
    )
