"""Step 0 of §4: the applicant's situation (情形) — which items and requirements apply.

A `when` condition maps questions to the answers under which something
applies; all its questions must match. Against the applicant's answers it
either applies, contradicts an answer (left out altogether), or waits on a
question not yet answered (conditional: listed, kept out of everything else).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from catalog.model import Catalog

from .document import BundleError, OpenQuestion

Verdict = Literal["applies", "open", "out"]


def checked_answers(catalog: Catalog, answers: Mapping[str, str] | None) -> dict[str, str]:
    """The answers as given, each to a question of the catalog with one of its answers.

    Raises BundleError UNKNOWN_ANSWER naming the first one that is not.
    """
    out: dict[str, str] = {}
    for question, answer in (answers or {}).items():
        defined = catalog.questions.get(question)
        if defined is None:
            raise BundleError("UNKNOWN_ANSWER", f"目录中没有问题“{question}”。", [])
        if answer not in defined.answers:
            offered = "、".join(f"“{text}”（{a}）" for a, text in defined.answers.items())
            raise BundleError(
                "UNKNOWN_ANSWER", f"问题“{defined.text}”没有答案“{answer}”，可选答案为{offered}。", []
            )
        out[question] = answer
    return out


def situation(when: Mapping[str, list[str]], answers: Mapping[str, str]) -> Verdict:
    """Whether something under condition `when` applies given `answers`.

    A contradicted question wins over an open one: what cannot apply is out, whatever is still asked.
    """
    verdict: Verdict = "applies"
    for question, accepted in when.items():
        given = answers.get(question)
        if given is None:
            verdict = "open"
        elif given not in accepted:
            return "out"
    return verdict


def open_questions(
    catalog: Catalog, conditions: Iterable[Mapping[str, list[str]]], answers: Mapping[str, str]
) -> list[OpenQuestion]:
    """The questions the conditions still wait on, each once, in the order they first appear."""
    asked: dict[str, OpenQuestion] = {}
    for when in conditions:
        for question in when:
            if question in answers or question in asked:
                continue
            defined = catalog.questions.get(question)
            if defined is not None:  # a valid catalog defines every question it names
                asked[question] = OpenQuestion(question, defined.text, dict(defined.answers))
    return list(asked.values())
