"""The real Ningxia catalog through the API: every bundle for every county, published by PUT /catalog."""

from __future__ import annotations

import msgspec
import pytest

from api.settings import Settings
from bundler import BundleError, compose_bundle
from catalog.validate import load_file
from tests.conftest import NINGXIA

from .conftest import running


@pytest.fixture(scope="module")
def ningxia():
    if not NINGXIA.exists():
        pytest.skip("fixtures/ningxia.jsonl is not there yet")
    catalog, report = load_file(NINGXIA)
    assert report.ok
    return catalog


def test_ningxia_published_over_http_then_every_bundle_for_every_county(sqlite_url, ningxia):
    with running(Settings(db_url=sqlite_url, token_ttl=0)) as api:
        r = api.put("/catalog", role="reviewer", content=NINGXIA.read_bytes())
        assert r.status_code == 200, r.text
        summary = r.json()["catalog"]
        assert summary["regions"] == len(ningxia.regions) and summary["bundles"] == len(ningxia.bundles)
        counties = [c for c, region in ningxia.regions.items() if region.level == "county"]
        composed = 0
        for bundle in sorted(ningxia.bundles):
            for county in counties:
                r = api.get(f"/bundles/{bundle}/workflow", params={"region": county})
                try:
                    expected = compose_bundle(ningxia, bundle, county)
                except BundleError as exc:
                    assert r.status_code == 422 and r.json()["code"] == exc.problem.error
                    continue
                assert r.status_code == 200, r.text
                # The same document as the whole file gives, computed on the indexed slice, with the
                # store version it was computed on.
                assert r.json() == msgspec.to_builtins(msgspec.structs.replace(expected, revision=1))
                composed += 1
            guide = api.get(f"/bundles/{bundle}/guide", params={"region": counties[0]})
            assert guide.status_code in (200, 422)
        assert composed >= len(ningxia.bundles)
        for county in counties:
            assert api.get(f"/regions/{county}/items").json()["total"] > 0
        report = api.get("/validation", role="reviewer").json()
        assert report["summary"]["errors"] == 0
        assert len(report["conformity"]) > 0
