"""How one requirement is written in one 材料n cell, and read back exactly.

    req：名称A／名称B【非必需】【容缺】【情形：premises=lease、own；card=yes】

- `req` is the requirement's id in the item (the item lists them in 说明); it may be left out
  when the materials name one requirement of the item alone;
- the alternatives (any one of them will do) by material **name** — the dictionary's name,
  or an alias, or the material's id are all understood; a word the dictionary does not know
  is taken as an id and reported by validation (UNKNOWN_REF) when the row is touched;
- 【非必需】 optional, 【容缺】 deferrable (accepted without it, taken later), 【情形：…】 the
  situations it applies in: question = answers (、 between answers, ； between questions),
  by id or by the question's and answers' own words.

Order is kept everywhere (requirements, alternatives, questions, answers), so a sheet read
back gives the very records it was written from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..model import Item, Material, Question, Requirement

REQ, ALT, OPEN, CLOSE = "：", "／", "【", "】"
OPTIONAL, DEFERRABLE, WHEN = "非必需", "容缺", "情形："
EQUALS, ANSWERS, QUESTIONS = "=", "、", "；"
_WORD_BREAKS = (ALT, OPEN, CLOSE)
_FLAG = re.compile(f"{OPEN}([^{CLOSE}]*){CLOSE}")


class NotationError(ValueError):
    """A cell that cannot be read as a requirement; the message is for a clerk."""


class Words:
    """The material dictionary and the questions as a clerk writes them."""

    def __init__(self, materials: Mapping[str, Material], questions: Mapping[str, Question]) -> None:
        names: dict[str, set[str]] = {}
        aliases: dict[str, set[str]] = {}
        for m in materials.values():
            names.setdefault(m.name.strip(), set()).add(m.id)
            for alias in m.aliases:
                aliases.setdefault(alias.strip(), set()).add(m.id)
        self._names = {w: next(iter(ids)) for w, ids in names.items() if len(ids) == 1}
        self._aliases = {w: next(iter(ids)) for w, ids in aliases.items() if len(ids) == 1}
        self._materials = materials
        self._shown: dict[str, str] = {}
        self.questions = questions
        self._question_texts: dict[str, str] = {}
        for q in questions.values():
            self._question_texts.setdefault(q.text.strip(), q.id)

    # -- materials -------------------------------------------------------------------------
    def material(self, word: str) -> str:
        """The material id a word stands for: a name, else an alias, else the word itself."""
        word = word.strip()
        return self._names.get(word) or self._aliases.get(word) or word

    def word(self, material: str) -> str:
        """What a cell shows for a material: its name when that reads back to it, else its id."""
        shown = self._shown.get(material)
        if shown is None:
            found = self._materials.get(material)
            shown = material
            if (
                found is not None
                and _clean(found.name, _WORD_BREAKS)
                and self.material(found.name) == material
            ):
                shown = found.name.strip()
            self._shown[material] = shown
        return shown

    # -- questions ---------------------------------------------------------------------------
    def question(self, word: str) -> str:
        word = word.strip()
        return word if word in self.questions else self._question_texts.get(word, word)

    def answer(self, question: str, word: str) -> str:
        word = word.strip()
        found = self.questions.get(question)
        if found is None or word in found.answers:
            return word
        return next((a for a, text in found.answers.items() if text.strip() == word), word)


def _clean(word: str, breaks: tuple[str, ...]) -> bool:
    return word == word.strip() and word != "" and not any(b in word for b in breaks)


def write(requirement: Requirement, words: Words) -> str:
    """The cell for one requirement."""
    return requirement.req + REQ + ALT.join(words.word(m) for m in requirement.any_of) + marks(requirement)


def marks(requirement: Requirement) -> str:
    """The 【】 marks of a requirement (optional, deferrable, its situations)."""
    text = ""
    if requirement.optional:
        text += OPEN + OPTIONAL + CLOSE
    if requirement.deferrable:
        text += OPEN + DEFERRABLE + CLOSE
    if requirement.when:
        conditions = (q + EQUALS + ANSWERS.join(answers) for q, answers in requirement.when.items())
        text += OPEN + WHEN + QUESTIONS.join(conditions) + CLOSE
    return text


def read(cell: str, words: Words, item: Item | None, taken: set[str]) -> Requirement:
    """One requirement from its cell. `item`: the row's item (to tell an omitted `req`), `taken`:
    the requirements earlier cells of the row named (the new one is added). NotationError says
    what is wrong, in words a clerk understands."""
    at = cell.find(OPEN)
    head, tail = (cell, "") if at < 0 else (cell[:at], cell[at:])
    optional = deferrable = False
    when: dict[str, list[str]] = {}
    rest = _FLAG.sub("", tail).strip()
    if rest:
        raise NotationError(f"“{rest}”不在【】内；标注写作【非必需】【容缺】【情形：问题=答案】")
    for flag in _FLAG.findall(tail):
        flag = flag.strip()
        if flag == OPTIONAL:
            optional = True
        elif flag == DEFERRABLE:
            deferrable = True
        elif flag.startswith((WHEN, "情形:")):
            when = _conditions(flag[len(WHEN) :], words)
        else:
            raise NotationError(f"不认识的标注【{flag}】；可用【非必需】【容缺】【情形：问题=答案】")
    req: str | None = None
    for separator in (REQ, ":"):
        if separator in head:
            req, head = (part.strip() for part in head.split(separator, 1))
            break
    alternatives = [words.material(w) for w in head.split(ALT)] if head.strip() else []
    if any(not m for m in alternatives):
        raise NotationError("两个“／”之间缺少材料名称")
    if req is None:
        req = _infer(alternatives, item, taken)
    elif not req:
        raise NotationError("“：”前缺少材料要求的编号")
    if req in taken:
        raise NotationError(f"材料要求 {req} 在本行出现了两次")
    taken.add(req)
    return Requirement(req=req, any_of=alternatives, optional=optional, deferrable=deferrable, when=when)


def _conditions(text: str, words: Words) -> dict[str, list[str]]:
    when: dict[str, list[str]] = {}
    for part in text.split(QUESTIONS):
        if not part.strip():
            continue
        if EQUALS not in part:
            raise NotationError(f"情形“{part.strip()}”应写作 问题=答案（多个答案用“、”分隔）")
        question, answers = part.split(EQUALS, 1)
        qid = words.question(question)
        if not qid:
            raise NotationError("情形中“=”前缺少问题")
        chosen = [words.answer(qid, a) for a in answers.split(ANSWERS)]
        if not all(chosen):
            raise NotationError(f"情形 {qid} 缺少答案")
        if qid in when:
            raise NotationError(f"情形中问题 {qid} 出现了两次")
        when[qid] = chosen
    if not when:
        raise NotationError("【情形：】中没有写问题和答案")
    return when


def _infer(alternatives: list[str], item: Item | None, taken: set[str]) -> str:
    """The requirement of the item that alone lists all these materials (and is not taken)."""
    if item is None or not alternatives:
        raise NotationError("请写明材料要求的编号，如“identity：居民身份证”（编号见“说明”）")
    fits = [r.req for r in item.materials if r.req not in taken and set(alternatives) <= set(r.any_of)]
    if len(fits) != 1:
        why = "基本目录中没有列出这些材料的要求" if not fits else f"可能是 {'、'.join(fits)} 中的任一个"
        raise NotationError(f"看不出这是哪一条材料要求（{why}）；请写作“编号：材料名称”")
    return fits[0]
