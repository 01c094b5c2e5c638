"""Finding items and bundles with the words people use, and sorting bundles by life event.

People do not type the catalog's names: they ask for 上户口, 出生证, 身份证, or `hkdj` on a
phone keyboard. A `SearchIndex` answers them over the catalog's small dictionaries (items,
bundles, materials — never the implementations), built once per catalog version:

- **synonyms and aliases**: a query word is also looked for as every catalog phrase it stands
  for — a material's `aliases` (出生证 → 出生医学证明) and the synonym list kept as data in
  `data/synonyms.tsv` (上户口 → 户口登记, 出生登记);
- **word segmentation** (`rjieba`): a sentence (我要给孩子上户口) is cut into words, each
  looked for on its own; the words of a question (`data/stopwords.txt`: 我想, 办理) are left
  out, and words that appear nowhere are dropped rather than failing it;
- **pinyin** (`pypinyin`): a query of Latin letters matches the initials (`csyxzm`) or the
  full pinyin (`hukou`) of names and of the phrases above.

A document matches a word where its name, what it issues, its description, its items' names or
the materials it asks for hold the word or one of its phrases; the name counts most. Results
matching the most of the query's words come first. Pure logic: no web framework, no database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from .model import Bundle, Item, Material, Region

Kind = Literal["item", "bundle"]

# Where a word was found, how much that counts, and how to say so.
NAME, OUTPUT, PARTS, ABOUT, MATERIALS = "name", "output", "parts", "about", "materials"
WEIGHT = {NAME: 40, OUTPUT: 30, PARTS: 15, ABOUT: 10, MATERIALS: 5}
EXACT_NAME = 100
SAID = {
    NAME: "名称含“{}”",
    OUTPUT: "办结后得到“{}”",
    PARTS: "包含“{}”相关事项",
    ABOUT: "说明中提到“{}”",
    MATERIALS: "需要材料“{}”",
}

LATIN = re.compile(r"^[a-z]+$")
SPACES = re.compile(r"[\s,，、;；/|]+")
PUNCTUATION = re.compile(r"^[\W_]+$")


def normalize(text: str) -> str:
    """Full-width to half-width, case folded, outer blanks gone."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


# -- data kept as data ----------------------------------------------------------------------


def _data_lines(name: str) -> Iterable[list[str]]:
    text = resources.files("catalog").joinpath("data", name).read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.split("\t")


def load_stopwords() -> frozenset[str]:
    """`data/stopwords.txt`: words of a question that do not say what is to be done (我想, 办理)."""
    return frozenset(normalize(row[0]) for row in _data_lines("stopwords.txt"))


def load_synonyms() -> dict[str, tuple[str, ...]]:
    """`data/synonyms.tsv`: a word people use → the catalog phrases it stands for."""
    out: dict[str, list[str]] = {}
    for row in _data_lines("synonyms.tsv"):
        canonical = normalize(row[0])
        for word in row[1:]:
            word = normalize(word)
            if word and canonical not in out.setdefault(word, []):
                out[word].append(canonical)
    return {w: tuple(c) for w, c in out.items()}


@dataclass(frozen=True)
class LifeEvent:
    audience: str
    """个人 or 企业"""
    name: str
    words: tuple[str, ...]


def load_life_events() -> list[LifeEvent]:
    """`data/life_events.tsv`, in order; the last row (no words) takes what no other does."""
    return [
        LifeEvent(row[0], row[1], tuple(row[2].split()) if len(row) > 2 else ())
        for row in _data_lines("life_events.tsv")
    ]


def life_event(bundle: Bundle, events: list[LifeEvent]) -> LifeEvent:
    """The first event one of whose words the bundle's name holds, else its description, else the
    table's last row."""
    for text in (bundle.name, bundle.description):
        for event in events:
            if any(w in text for w in event.words):
                return event
    return events[-1]


def by_life_event(
    bundles: Iterable[Bundle], events: list[LifeEvent]
) -> list[tuple[str, list[tuple[str, list[Bundle]]]]]:
    """[(audience, [(event, bundles by name)])], audiences and events in the table's order;
    empty events left out."""
    placed: dict[tuple[str, str], list[Bundle]] = {}
    for bundle in bundles:
        event = life_event(bundle, events)
        placed.setdefault((event.audience, event.name), []).append(bundle)
    out: list[tuple[str, list[tuple[str, list[Bundle]]]]] = []
    for event in events:
        found = placed.pop((event.audience, event.name), None)
        if found is None:
            continue
        group = next((g for a, g in out if a == event.audience), None)
        if group is None:
            group = []
            out.append((event.audience, group))
        group.append((event.name, sorted(found, key=lambda b: b.name)))
    return out


# -- pinyin -------------------------------------------------------------------------------------


def _alnum(text: str) -> str:
    """What pinyin keeps of a run of non-Chinese text: its letters and digits, casefolded."""
    return "".join(c for c in text.casefold() if c.isalnum())


def _pinyin(text: str) -> tuple[str, str]:
    """(initials, full pinyin) of the text's Chinese characters and Latin letters/digits."""
    from pypinyin import Style, lazy_pinyin  # not at the top: 1.6 s to import (`-X importtime`)

    full = lazy_pinyin(text, errors=_alnum)
    initials = lazy_pinyin(text, style=Style.FIRST_LETTER, errors=_alnum)
    return "".join(initials).casefold(), "".join(full).casefold()


# -- the index ----------------------------------------------------------------------------------


@dataclass
class Doc:
    kind: Kind
    key: str
    name: str
    fields: dict[str, list[str]]
    """NAME/OUTPUT/PARTS/ABOUT/MATERIALS → the phrases there (normalized)."""
    initials: str = ""
    full: str = ""


@dataclass(frozen=True)
class Hit:
    kind: Kind
    key: str
    name: str
    score: int
    matched: int
    """How many of the query's words the document holds."""
    why: str
    """Where the strongest word was found, in words a reader understands."""


@dataclass
class Query:
    text: str
    groups: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    """Each word of the query with the phrases it also stands for."""


def _material_phrases(material: Material | None, key: str) -> list[str]:
    if material is None:
        return [normalize(key)]
    return [normalize(material.name), *(normalize(a) for a in material.aliases)]


class SearchIndex:
    """Items and bundles by the words people use. Build once per catalog version."""

    def __init__(
        self,
        items: Mapping[str, Item],
        bundles: Mapping[str, Bundle],
        materials: Mapping[str, Material],
        synonyms: Mapping[str, tuple[str, ...]] | None = None,
        regions: Mapping[str, Region] | None = None,
    ):
        import rjieba  # not at the top: 0.9 s to import (`-X importtime`), only for an index

        self.stopwords = load_stopwords()
        self.synonyms: dict[str, set[str]] = {}
        for word, phrases in (load_synonyms() if synonyms is None else synonyms).items():
            self.synonyms.setdefault(word, set()).update(phrases)
        for material in materials.values():  # the material dictionary's aliases
            name = normalize(material.name)
            for alias in material.aliases:
                alias = normalize(alias)
                if alias != name:
                    self.synonyms.setdefault(alias, set()).add(name)
        self.places: list[tuple[str, str, str, str]] = [
            (code, normalize(r.name), *_pinyin(r.name)) for code, r in sorted((regions or {}).items())
        ]
        """(code, name, initials, pinyin) of every region, for the region tree's search."""
        self.known_as: dict[str, str] = {}
        """A material's phrase (its name or an alias) → its name in the dictionary, to say why."""
        for material in materials.values():
            for phrase in _material_phrases(material, material.id):
                self.known_as.setdefault(phrase, material.name)
        self.docs: list[Doc] = []
        for code in sorted(items):
            item = items[code]
            self.docs.append(
                Doc(
                    "item",
                    code,
                    item.name,
                    {
                        NAME: [normalize(item.name)],
                        OUTPUT: [p for m in item.outputs for p in _material_phrases(materials.get(m), m)],
                        MATERIALS: sorted(
                            {
                                p
                                for r in item.materials
                                for m in r.any_of
                                for p in _material_phrases(materials.get(m), m)
                            }
                        ),
                    },
                )
            )
        for bid in sorted(bundles):
            bundle = bundles[bid]
            parts = [items[c] for c in bundle.items if c in items]
            self.docs.append(
                Doc(
                    "bundle",
                    bid,
                    bundle.name,
                    {
                        NAME: [normalize(bundle.name)],
                        ABOUT: [normalize(bundle.description)] if bundle.description else [],
                        PARTS: [normalize(i.name) for i in parts],
                        OUTPUT: sorted(
                            {
                                p
                                for i in parts
                                for m in i.outputs
                                for p in _material_phrases(materials.get(m), m)
                            }
                        ),
                        MATERIALS: sorted(
                            {
                                p
                                for i in parts
                                for r in i.materials
                                for m in r.any_of
                                for p in _material_phrases(materials.get(m), m)
                            }
                        ),
                    },
                )
            )
        # Every phrase a query may name: what the segmenter keeps whole and pinyin can reach.
        vocabulary: set[str] = set(self.synonyms)
        for alike in self.synonyms.values():
            vocabulary |= alike
        for doc in self.docs:
            doc.initials, doc.full = _pinyin(doc.name)
            vocabulary.update(doc.fields[NAME])
            vocabulary.update(doc.fields[OUTPUT])
            vocabulary.update(doc.fields[MATERIALS])
        self.segmenter = rjieba.Jieba()
        self.by_pinyin: dict[str, set[str]] = {}
        for phrase in sorted(vocabulary):
            if not phrase or LATIN.match(phrase):
                continue
            if len(phrase) <= 12:
                self.segmenter.add_word(phrase, None, None)
            initials, full = _pinyin(phrase)
            for key in (initials, full):
                if len(key) >= 2:
                    self.by_pinyin.setdefault(key, set()).add(phrase)

    # -- the query ------------------------------------------------------------------------
    def parse(self, q: str) -> Query:
        """The query's words, each with the phrases it stands for (synonyms, aliases, pinyin)."""
        text = normalize(q)[:100]
        query = Query(text)
        if not text:
            return query
        words: list[str] = []
        for piece in SPACES.split(text):
            if not piece:
                continue
            if LATIN.match(piece) or piece in self.synonyms:
                words.append(piece)
                continue
            cut = [w.strip() for w in self.segmenter.cut(piece)]
            cut = [w for w in cut if w and not PUNCTUATION.match(w) and w not in self.stopwords]
            if len(cut) > 1:
                cut = [w for w in cut if len(w) > 1 or w in self.synonyms]  # 的, 我, 上 … say little
            words.extend(cut or ([] if piece in self.stopwords else [piece]))
        seen: set[str] = set()
        for word in words:
            if word in seen:
                continue
            seen.add(word)
            also: set[str] = set(self.synonyms.get(word, ()))
            if LATIN.match(word):
                for phrase in self.by_pinyin.get(word, ()):
                    also.add(phrase)
                    also |= self.synonyms.get(phrase, set())
            query.groups.append((word, tuple(sorted(also - {word}))))
        return query

    def _score(self, doc: Doc, word: str, also: tuple[str, ...]) -> tuple[int, str]:
        """How strongly the doc holds the word (0: not at all), and where."""
        best, why = 0, ""
        if LATIN.match(word) and len(word) >= 2:
            if doc.initials.startswith(word) or doc.full.startswith(word):
                best, why = WEIGHT[NAME] + 5, SAID[NAME].format(doc.name)
            elif len(word) >= 3 and (word in doc.initials or word in doc.full):
                best, why = WEIGHT[NAME], SAID[NAME].format(doc.name)
        for rank, phrase in enumerate((word, *also)):
            if LATIN.match(phrase):
                continue
            for where in (NAME, OUTPUT, PARTS, ABOUT, MATERIALS):
                weight = WEIGHT[where] - (5 if rank else 0)  # the word itself over what it stands for
                if weight <= best:
                    break
                for text in doc.fields.get(where, ()):
                    if phrase in text:
                        if where == NAME and phrase == text:
                            weight = EXACT_NAME
                        said = self.known_as.get(text, phrase) if where in (OUTPUT, MATERIALS) else phrase
                        best, why = weight, SAID[where].format(said)
                        break
        return best, why

    def search(
        self, q: str, *, allowed: Callable[[Kind, str], bool] | None = None, limit: int = 50
    ) -> tuple[Query, list[Hit]]:
        """The documents matching the most of the query's words, strongest first."""
        query = self.parse(q)
        if not query.groups:
            return query, []
        scored: list[tuple[Doc, list[tuple[int, str]]]] = []
        for doc in self.docs:
            if allowed is not None and not allowed(doc.kind, doc.key):
                continue
            scores = [self._score(doc, word, also) for word, also in query.groups]
            if any(s for s, _ in scores):
                scored.append((doc, scores))
        # A word no document holds (我要, 办理) says nothing: it neither narrows nor ranks.
        live = [i for i in range(len(query.groups)) if any(sc[i][0] for _, sc in scored)]
        hits = []
        for doc, scores in scored:
            mine = [scores[i] for i in live]
            matched = sum(1 for s, _ in mine if s)
            best = max(mine)
            hits.append(Hit(doc.kind, doc.key, doc.name, sum(s for s, _ in mine), matched, best[1]))
        if not hits:
            return query, []
        most = max(h.matched for h in hits)
        hits = [h for h in hits if h.matched == most]
        hits.sort(key=lambda h: (-h.score, h.kind != "bundle", h.name, h.key))
        return query, hits[:limit]

    def regions(self, q: str) -> list[str]:
        """The codes of the regions whose name holds the query, or whose initials or pinyin start
        with it (xqq, xingqing → 兴庆区), in code order."""
        text = normalize(q)
        if not text:
            return []
        latin = LATIN.match(text) is not None
        return [
            code
            for code, name, initials, full in self.places
            if text in name or (latin and (initials.startswith(text) or full.startswith(text)))
        ]
