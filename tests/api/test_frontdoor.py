"""The front door, search and the public catalog pages through the real app (issue 17, points 2,
6, 7): a region asked once and remembered; the one-things offered there by life event; search
with the words people use; the published catalog readable without a token, the staff's pages
behind sign-in and out of the anonymous nav."""

from __future__ import annotations

import re
from urllib.parse import quote

from api.settings import Settings

from .conftest import Api, running, small_catalog

PUBLIC = (
    "/",
    "/pages/regions",
    "/pages/regions?q=兴庆",
    "/pages/regions/640104",
    "/pages/regions/640104?q=上户口",
    "/pages/items/000100001000",
    "/pages/bundles",
    "/pages/bundles?region=640104",
    "/pages/bundles?q=出生证",
    "/pages/search",
    "/pages/search?q=出生证",
    "/pages/bundles/newborn/guide?region=640104",
)
STAFF = (
    "/pages/review",
    "/pages/checks",
    "/pages/designer",
    "/pages/versions",
    "/pages/review-queue",
    "/pages/submissions",
    "/pages/stats",
)
STAFF_LINKS = ("/pages/review", "/pages/checks", "/pages/versions", "/pages/designer", "/pages/stats")


def links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


def nav(html: str) -> set[str]:
    return links(html[html.index("<nav") : html.index("</nav>")])


def test_published_pages_read_without_a_token_and_staff_pages_ask_to_sign_in(sqlite_api: Api) -> None:
    for url in PUBLIC:
        r = sqlite_api.get(url, role=None, follow_redirects=False)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
        assert "请先登录" not in r.text and 'name="token"' not in r.text, url
        assert not (nav(r.text) & set(STAFF_LINKS)), url  # nothing the visitor cannot open
    for url in STAFF:
        r = sqlite_api.get(url, role=None, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/pages/login?next="), url


def test_the_nav_shows_staff_pages_to_the_roles_that_can_use_them(sqlite_api: Api) -> None:
    sqlite_api.sign_in("portal")
    shown = nav(sqlite_api.client.get("/").text)
    assert {"/pages/designer", "/pages/stats"} <= shown and "/pages/review" not in shown
    sqlite_api.sign_in("admin")
    page = sqlite_api.client.get("/")
    assert set(STAFF_LINKS) <= nav(page.text)
    assert 'id="job-review"' in page.text


def test_front_door_asks_the_region_once_and_lists_what_is_offered_there(sqlite_api: Api) -> None:
    client = sqlite_api.client
    first = client.get("/")
    assert first.status_code == 200
    assert 'name="region"' in first.text and "请先选择您所在的地区" in first.text
    assert 'data-bundle="newborn"' not in first.text  # nothing listed until a region is chosen

    chosen = client.get("/?region=640104")
    assert "onething_region=640104" in chosen.headers["set-cookie"]
    assert 'data-audience="个人"' in chosen.text
    assert '<a href="/pages/bundles/newborn/guide?region=640104">新生儿出生一件事</a>' in chosen.text
    # 远方一件事 cannot be composed in 兴庆区 (an item only 石嘴山 implements): not offered here.
    assert 'data-bundle="far"' not in chosen.text
    assert "newborn</" not in chosen.text and ">newborn" not in chosen.text  # no slugs where people read

    again = client.get("/")  # remembered: the cookie, no question asked again
    assert '<a href="/pages/bundles/newborn/guide?region=640104">' in again.text
    assert '<option value="640104" selected>' in again.text

    home = client.get("/pages/", follow_redirects=False)  # the pages' home is the front door
    assert home.status_code == 302 and home.headers["location"] == "/"

    forgotten = client.get("/?region=")
    assert 'data-bundle="newborn"' not in forgotten.text
    assert client.get("/?region=999999").status_code == 200  # an unknown region is not chosen


def test_bundle_list_is_names_with_one_region_choice(sqlite_api: Api) -> None:
    page = sqlite_api.get("/pages/bundles?region=640104", role=None).text
    assert page.count("<select") == 1
    assert "新生儿出生一件事" in page and 'data-bundle="far"' not in page
    assert "版本" not in page.split("<main", 1)[1].split("</main>")[0]
    everywhere = sqlite_api.client.get("/pages/bundles?region=").text
    assert 'data-bundle="far"' in everywhere and everywhere.count("<select") == 1
    found = sqlite_api.client.get("/pages/bundles?q=" + quote("上户口")).text
    assert 'data-bundle="newborn"' in found and 'data-bundle="far"' not in found


def test_search_finds_items_and_bundles_by_the_words_people_use(sqlite_api: Api) -> None:
    def hits(q: str, region: str = "all") -> list[str]:
        r = sqlite_api.client.get("/pages/search", params={"q": q, "region": region})
        assert r.status_code == 200
        return re.findall(r'data-kind="(?:item|bundle)" data-key="([^"]+)"', r.text)

    assert hits("出生证")[:2] == ["000100001000", "newborn"] or set(hits("出生证")[:2]) == {
        "000100001000",
        "newborn",
    }
    assert "000100002000" in hits("上户口")  # 出生登记, by the synonym list
    assert "000100002000" in hits("csdj")  # pinyin initials of 出生登记
    assert "000100001000" in hits("身份证")  # 居民身份证, the material it asks for
    assert hits("完全无关的词") == []
    # In 兴庆区 only what an applicant there can apply for: 石嘴山's item is not.
    assert "000100004000" in hits("石嘴山") and "000100004000" not in hits("石嘴山", "640104")


def test_region_tree_search_by_name_and_initials(sqlite_api: Api) -> None:
    r = sqlite_api.client.get("/pages/regions", params={"q": "xqq"})
    assert re.findall(
        r'<li data-region="(\d+)"><a', r.text.split('id="region-results"')[1].split("</ul>")[0]
    ) == ["640104"]


def test_public_pages_follow_public_reads_off(sqlite_url: str) -> None:
    with running(Settings(db_url=sqlite_url, token_ttl=0, public_read=False), small_catalog()) as api:
        assert api.get("/", role=None).status_code == 200
        for url in ("/pages/search?q=x", "/pages/regions", "/pages/bundles"):
            assert api.get(url, role=None, follow_redirects=False).status_code == 303, url


def test_front_door_before_anything_is_published(empty_api: Api) -> None:
    r = empty_api.get("/", role=None)
    assert r.status_code == 200 and "尚未发布目录" in r.text and 'name="region"' not in r.text
