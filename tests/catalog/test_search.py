"""Search with the words people use (`catalog.search`): synonyms kept as data, the material
dictionary's aliases, word segmentation, pinyin; and bundles by life event."""

from __future__ import annotations

import pytest

from catalog.model import Bundle
from catalog.search import (
    SearchIndex,
    by_life_event,
    life_event,
    load_life_events,
    load_synonyms,
)
from catalog.validate import load_file
from tests.bundler.build import Builder, req
from tests.conftest import NINGXIA

NEWBORN_REGISTRATION = "000700104000"  # 国(境)内出生登记
BIRTH_CERT_ITEM = "002002102000"  # 出生医学证明签发


@pytest.fixture(scope="module")
def ningxia():
    catalog, report = load_file(NINGXIA)
    assert report.ok
    return catalog


@pytest.fixture(scope="module")
def index(ningxia) -> SearchIndex:
    return SearchIndex(ningxia.items, ningxia.bundles, ningxia.materials)


def keys(index: SearchIndex, q: str, kind: str | None = None) -> list[str]:
    return [h.key for h in index.search(q)[1] if kind is None or h.kind == kind]


def test_synonym_list_takes_the_words_people_use_to_the_catalogs(ningxia, index: SearchIndex) -> None:
    assert "户口登记" in load_synonyms()["上户口"]
    assert keys(index, "上户口", "item")[0] == NEWBORN_REGISTRATION
    assert "newborn" in keys(index, "上户口", "bundle")
    # Without the synonym list only 户口 is looked for: 户口注销 comes first, not the registration.
    bare = SearchIndex(ningxia.items, ningxia.bundles, ningxia.materials, synonyms={})
    assert keys(bare, "上户口", "item")[0] != NEWBORN_REGISTRATION


def test_material_aliases_find_what_issues_or_asks_for_the_material() -> None:
    b = Builder()
    b.material("birth-cert", "出生医学证明")
    b.material("baby-book", "宝宝手册")
    b.catalog.materials["baby-book"] = b.catalog.materials["baby-book"].__class__(
        id="baby-book", name="宝宝手册", category="other", aliases=["娃娃本"]
    )
    issue = b.item(1, req("book", "baby-book"), outputs=("birth-cert",), name="出生医学证明签发")
    other = b.item(2, req("cert", "birth-cert"), name="预防接种档案")
    b.bundle("kid", issue, other, name="孩子一件事")
    index = SearchIndex(b.catalog.items, b.catalog.bundles, b.catalog.materials, synonyms={})
    assert keys(index, "娃娃本", "item") == [issue]  # only the alias names it
    hits = index.search("娃娃本")[1]
    assert hits[0].why == "需要材料“娃娃本”" or "宝宝手册" in hits[0].why


def test_the_catalogs_aliases_reach_the_items(index: SearchIndex) -> None:
    # 出生证 is an alias of 出生医学证明 in the material dictionary.
    assert keys(index, "出生证", "item")[0] == BIRTH_CERT_ITEM
    assert "newborn" in keys(index, "出生证", "bundle")
    # 身份证 → 居民身份证: the items that ask for it.
    found = keys(index, "身份证", "item")
    assert len(found) > 20 and "002002804000" in found  # 无犯罪记录证明出具 asks only for it


def test_a_sentence_is_cut_into_words_and_each_is_looked_for(index: SearchIndex) -> None:
    query = index.parse("生育医疗报销")
    assert [w for w, _ in query.groups] == ["生育", "医疗", "报销"]
    assert keys(index, "生育医疗报销", "item") == ["000500108000"]  # 生育医疗费用报销: no substring of it
    # Words no document holds (我想) neither narrow nor fail the search.
    assert keys(index, "我想办理退休提取公积金", "item")[0] == "000500503000"  # 退休提取住房公积金


def test_pinyin_initials_and_full_pinyin(index: SearchIndex) -> None:
    assert keys(index, "csyxzm", "item")[0] == BIRTH_CERT_ITEM
    assert keys(index, "hkdj", "item")[0] == NEWBORN_REGISTRATION  # 户口登记 → its synonyms
    assert keys(index, "CSYXZM") == keys(index, "csyxzm")
    assert "000700602000" in keys(index, "hukou", "item")  # 死亡人员户口注销


def test_regions_by_name_initials_and_pinyin(ningxia) -> None:
    index = SearchIndex({}, {}, {}, synonyms={}, regions=ningxia.regions)
    assert index.regions("xqq") == index.regions("兴庆") == index.regions("XingQing") == ["640104"]
    assert "640521" in index.regions("中宁")
    assert index.regions("") == [] and index.regions("不存在的地方") == []


def test_nothing_is_found_for_nothing(index: SearchIndex) -> None:
    assert keys(index, "") == [] and keys(index, "   ") == []
    assert keys(index, "量子纠缠") == []


def test_search_keeps_to_what_is_allowed(index: SearchIndex) -> None:
    _, hits = index.search("出生证", allowed=lambda kind, key: kind == "bundle")
    assert hits and all(h.kind == "bundle" for h in hits)


def test_bundles_by_life_event_from_the_table(ningxia) -> None:
    events = load_life_events()
    grouped = dict(by_life_event(ningxia.bundles.values(), events))
    assert list(grouped) == ["个人", "企业"]
    persons = {b.id for _, bs in grouped["个人"] for b in bs}
    companies = {b.id for _, bs in grouped["企业"] for b in bs}
    assert {"newborn", "retirement", "after-death", "school-entry"} <= persons
    assert {"enterprise-opening", "restaurant", "engineering-project"} <= companies
    assert persons.isdisjoint(companies) and persons | companies == set(ningxia.bundles)
    assert life_event(ningxia.bundles["newborn"], events).name == "生育收养"
    stray = Bundle(id="x", name="无关一件事", items=[])
    assert life_event(stray, events) == events[-1]  # the table's last row takes the rest
