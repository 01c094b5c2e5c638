"""How one requirement is written in one 材料n cell (and a window in a 窗口n cell), and read back
exactly.

    名称A／名称B【非必需】【容缺】【情形：经营场所=租赁、自有；持卡=是】
    req：名称A／名称B【情形：premises=lease】   (the ids: written when the names are not enough,
                                               and still read)

- `req` is the requirement's id in the item (the item lists them in 说明); it is left out when
  the materials name one requirement of the item alone (the writer leaves it out then);
- the alternatives (any one of them will do) by material **name** — the dictionary's name,
  or an alias, or the material's id are all understood; a word the dictionary does not know
  is taken as an id and reported by validation (UNKNOWN_REF) when the row is touched;
- 【非必需】 optional, 【容缺】 deferrable (accepted without it, taken later), 【情形：…】 the
  situations it applies in: question = answers (、 between answers, ； between questions),
  by the question's and answers' own words (written so when they read back) or by id.

A service point's window (窗口n) is written the same way:

    一件事综合窗口【一件事：newborn、retire】【事项：000100035000】

Order is kept everywhere (requirements, alternatives, questions, answers, a window's bundles and
items), so a sheet read back gives the very records it was written from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..model import Item, Material, Question, Requirement, Window

REQ, ALT, OPEN, CLOSE = "：", "／", "【", "】"
OPTIONAL, DEFERRABLE, WHEN = "非必需", "容缺", "情形："
EQUALS, ANSWERS, QUESTIONS = "=", "、", "；"
_WORD_BREAKS = (ALT, OPEN, CLOSE)
_CONDITION_BREAKS = (OPEN, CLOSE, EQUALS, ANSWERS, QUESTIONS)
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
    def question_word(self, question: str) -> str:
        """What a cell shows for a question: its text when that reads back to it, else its id."""
        found = self.questions.get(question)
        if found is not None:
            text = found.text.strip()
            if _clean(text, _CONDITION_BREAKS) and self.question(text) == question:
                return text
        return question

    def answer_word(self, question: str, answer: str) -> str:
        """What a cell shows for an answer: its label when that reads back to it, else its id."""
        found = self.questions.get(question)
        label = None if found is None else found.answers.get(answer)
        if label is not None:
            label = label.strip()
            if _clean(label, _CONDITION_BREAKS) and self.answer(question, label) == answer:
                return label
        return answer

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


def write(
    requirement: Requirement, words: Words, item: Item | None = None, taken: set[str] | None = None
) -> str:
    """The cell for one requirement, by names: its materials' names and its situations' question
    and answer words. Its id goes first (`identity：…`) only when reading could not tell it from
    the names — `item`: the row's item, `taken`: the requirements earlier cells of the row wrote
    (the new one is added), as `read` has them."""
    shown = [words.word(m) for m in requirement.any_of]
    head = ALT.join(shown)
    if not (taken is not None and _speaks_for_itself(requirement, shown, item, taken)):
        head = requirement.req + REQ + head
    if taken is not None:
        taken.add(requirement.req)
    return head + marks(requirement, words)


def _speaks_for_itself(
    requirement: Requirement, shown: list[str], item: Item | None, taken: set[str]
) -> bool:
    """Would `read` find this requirement from its materials alone (what `_infer` does)?"""
    if item is None or not shown or any(REQ in w or ":" in w for w in shown):
        return False
    wanted = set(requirement.any_of)
    fits = [r.req for r in item.materials if r.req not in taken and wanted <= set(r.any_of)]
    return fits == [requirement.req]


def marks(requirement: Requirement, words: Words | None = None) -> str:
    """The 【】 marks of a requirement (optional, deferrable, its situations — by the question's
    and answers' words when `words` is given, else by id)."""
    text = ""
    if requirement.optional:
        text += OPEN + OPTIONAL + CLOSE
    if requirement.deferrable:
        text += OPEN + DEFERRABLE + CLOSE
    if requirement.when:
        conditions = (
            (q if words is None else words.question_word(q))
            + EQUALS
            + ANSWERS.join(a if words is None else words.answer_word(q, a) for a in answers)
            for q, answers in requirement.when.items()
        )
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
    """The requirement of the item that alone lists all these materials (and is not taken); when
    none lists them all, the one that alone lists some of them (validation then names the
    material the item lacks)."""
    if item is None or not alternatives:
        raise NotationError("请写明材料要求的编号，如“identity：居民身份证”（编号见“说明”）")
    named = set(alternatives)
    fits = [r.req for r in item.materials if r.req not in taken and named <= set(r.any_of)]
    if not fits:  # a material the item does not list: the one requirement sharing the others
        fits = [r.req for r in item.materials if r.req not in taken and named & set(r.any_of)]
    if len(fits) != 1:
        why = "基本目录中没有列出这些材料的要求" if not fits else f"可能是 {'、'.join(fits)} 中的任一个"
        raise NotationError(f"看不出这是哪一条材料要求（{why}）；请写作“编号：材料名称”")
    return fits[0]


# -- a service point's window (窗口n) and lists of codes ------------------------------------------

BUNDLES, ITEMS = "一件事：", "事项："
_CODE_BREAKS = re.compile(r"[、,，;；\s]+")


def codes(text: str) -> list[str]:
    """The codes of a cell that lists several: separated by 、 (as written), or by commas,
    semicolons or line breaks as a clerk may type them; order kept."""
    return [c for c in _CODE_BREAKS.split(text) if c]


def write_window(window: Window) -> str:
    """`名称【一件事：a、b】【事项：c、d】`, a mark left out when it lists nothing."""
    text = window.name
    if window.bundles:
        text += OPEN + BUNDLES + ANSWERS.join(window.bundles) + CLOSE
    if window.items:
        text += OPEN + ITEMS + ANSWERS.join(window.items) + CLOSE
    return text


def read_window(cell: str) -> Window:
    """A window from its cell; NotationError says what is wrong."""
    at = cell.find(OPEN)
    name, tail = (cell, "") if at < 0 else (cell[:at], cell[at:])
    name = name.strip()
    if not name:
        raise NotationError("缺少窗口名称；写作 窗口名称【一件事：编号、…】【事项：编码、…】")
    rest = _FLAG.sub("", tail).strip()
    if rest:
        raise NotationError(f"“{rest}”不在【】内；收件范围写作【一件事：编号、…】【事项：编码、…】")
    found: dict[str, list[str]] = {}
    for flag in _FLAG.findall(tail):
        flag = flag.strip()
        mark = next((m for m in (BUNDLES, ITEMS) if flag.startswith((m, m[:-1] + ":"))), None)
        if mark is None:
            raise NotationError(f"不认识的标注【{flag}】；可用【一件事：编号、…】【事项：编码、…】")
        if mark in found:
            raise NotationError(f"【{mark[:-1]}】写了两次")
        found[mark] = codes(flag[len(mark) :])
    return Window(name=name, bundles=found.get(BUNDLES, []), items=found.get(ITEMS, []))
