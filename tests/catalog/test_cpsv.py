"""CPSV-AP 3.2.0 export (spec §5 `export --format cpsv-ap|turtle`): the fixture's export holds
against the standard's own SHACL shapes, JSON-LD and Turtle carry the same graph, and the
records map to the terms the issue names."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import rdflib
from rdflib import RDF, Literal, URIRef
from rdflib.namespace import XSD

from catalog.cpsv import export
from catalog.cpsv.write import CONTEXT_FILE
from catalog.store import Store
from tests.bundler.build import Builder, req
from tests.conftest import NINGXIA, ROOT

SHARED = ROOT.parent / "shared" / "data" / "cpsv-ap-3.2.0"
SHAPES = SHARED / "cpsv-ap-SHACL.ttl"

CPSV = rdflib.Namespace("http://purl.org/vocab/cpsv#")
M8G = rdflib.Namespace("http://data.europa.eu/m8g/")
DCT = rdflib.Namespace("http://purl.org/dc/terms/")
ELI = rdflib.Namespace("http://data.europa.eu/eli/ontology#")
LOCN = rdflib.Namespace("http://www.w3.org/ns/locn#")


def shapes() -> rdflib.Graph:
    if not SHAPES.exists():
        pytest.skip(f"the official CPSV-AP 3.2.0 shapes are not at {SHAPES} (shared/ beside the clone)")
    return rdflib.Graph().parse(SHAPES)


def violations(graph: rdflib.Graph) -> tuple[bool, str]:
    import pyshacl

    conforms, _, text = pyshacl.validate(graph, shacl_graph=shapes())
    return conforms, text


def graph(data: bytes, fmt: str) -> rdflib.Graph:
    return rdflib.Graph().parse(data=data, format="json-ld" if fmt == "cpsv-ap" else "turtle")


def small():
    b = Builder()
    b.material("id-card", "居民身份证", e_license=True, category="identity")
    b.material("household-book", "户口簿")
    birth = b.item(1, req("identity", "id-card"), outputs=("birth-cert",), name="出生医学证明签发")
    hukou = b.item(2, req("proof", "birth-cert"), req("book", "household-book"), name="出生登记")
    b.implement(birth, "640104", promised_days=3, fee=12.5, window="兴庆区政务服务大厅")
    impl = b.implement(hukou, "640100", materials=[req("proof", "birth-cert")], window="")
    b.bundle("newborn", birth, hukou, name="新生儿出生一件事")
    return b, impl


def exported(b: Builder, tmp_path, fmt: str) -> bytes:
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        store.publish(b.catalog)
        return b"".join(export(store.export(), fmt))
    finally:
        store.dispose()


def test_the_fixture_export_has_no_shacl_violation(tmp_path):
    shapes()
    store = Store(f"sqlite:///{tmp_path / 'n.db'}")
    try:
        store.publish_file(NINGXIA)
        turtle = b"".join(export(store.export(), "turtle"))
        ld = b"".join(export(store.export(), "cpsv-ap"))
    finally:
        store.dispose()
    as_turtle, as_ld = graph(turtle, "turtle"), graph(ld, "cpsv-ap")
    assert len(as_turtle) > 10_000
    assert set(as_turtle) == set(as_ld)  # one graph, two syntaxes (no blank nodes)
    conforms, report = violations(as_turtle)
    assert conforms, report
    # every item and implementation is a public service, every bundle an event
    services = set(as_turtle.subjects(RDF.type, CPSV.PublicService))
    assert len(services) == sum(
        1 for line in NINGXIA.open("rb") if b'"kind":"item"' in line or b'"kind":"implementation"' in line
    )
    assert len(set(as_turtle.subjects(RDF.type, M8G.Event))) == 13


def test_the_shapes_do_catch_a_service_without_authority(tmp_path):
    b, _ = small()
    g = graph(exported(b, tmp_path, "turtle"), "turtle")
    assert violations(g)[0]
    g.remove((None, M8G.hasCompetentAuthority, None))
    conforms, report = violations(g)
    assert not conforms and "hasCompetentAuthority" in report


def test_records_map_to_the_standard_terms(tmp_path):
    b, hukou_impl = small()
    g = graph(exported(b, tmp_path, "cpsv-ap"), "cpsv-ap")
    birth = URIRef("urn:onething:item:000100001000")
    hukou = URIRef("urn:onething:item:000100002000")
    # precedence from the output 出生医学证明 → 出生登记's requirement: dct:requires
    assert (hukou, DCT.requires, birth) in g and (birth, DCT.requires, hukou) not in g
    assert (birth, CPSV.produces, URIRef("urn:onething:output:birth-cert")) in g
    (basis,) = set(g.objects(birth, M8G.hasLegalResource))
    assert (basis, RDF.type, ELI.LegalResource) in g and (
        basis,
        DCT.title,
        Literal("《测试法》第一条", lang="zh"),
    ) in g
    # the item's requirement met by the evidence
    identity = URIRef("urn:onething:item:000100001000:requirement:identity")
    assert (birth, M8G.holdsRequirement, identity) in g
    assert (identity, M8G.hasSupportingEvidence, URIRef("urn:onething:material:id-card")) in g
    assert (URIRef("urn:onething:material:id-card"), RDF.type, M8G.Evidence) in g

    (impl,) = [s for s in g.subjects(M8G.relatedService, birth) if (s, RDF.type, CPSV.PublicService) in g]
    (org,) = set(g.objects(impl, M8G.hasCompetentAuthority))
    assert (org, RDF.type, M8G.PublicOrganisation) in g
    uscc = str(g.value(impl, DCT.identifier))[:18]
    assert g.value(org, DCT.identifier) == Literal(uscc)
    assert (impl, DCT.spatial, URIRef("urn:onething:region:640104")) in g
    # an implementation without materials holds the item's requirements
    assert (impl, M8G.holdsRequirement, identity) in g
    (cost,) = set(g.objects(impl, M8G.hasCost))
    assert g.value(cost, M8G.hasValue) == Literal(12.5, datatype=XSD.double)
    channels = set(g.objects(impl, M8G.hasChannel))
    assert len(channels) == 2 and all((c, RDF.type, M8G.Channel) in g for c in channels)
    # an implementation that narrows its requirements holds its own
    own = URIRef(f"urn:onething:implementation:{hukou_impl.code}")
    (held,) = set(g.objects(own, M8G.holdsRequirement))
    assert str(held).startswith(str(own))
    assert len(set(g.objects(own, M8G.hasChannel))) == 1  # no window: online only

    bundle = URIRef("urn:onething:bundle:newborn")
    assert (bundle, RDF.type, M8G.LifeEvent) in g and (bundle, RDF.type, M8G.Event) in g
    assert set(g.objects(bundle, M8G.hasRelatedService)) == {birth, hukou}
    assert (hukou, M8G.isGroupedBy, bundle) in g


def test_the_json_ld_uses_the_official_context(tmp_path):
    b, _ = small()
    document = json.loads(exported(b, tmp_path, "cpsv-ap"))
    assert document["@context"] == json.loads(CONTEXT_FILE.read_text())["@context"]
    services = [n for n in document["@graph"] if n.get("@type") == ["PublicService"]]
    assert services and all("PublicService.hasCompetentAuthority" in n for n in services)
    official = SHARED / "cpsv-ap.jsonld"
    if official.exists():
        assert CONTEXT_FILE.read_bytes() == official.read_bytes()


def test_export_format_on_the_command_line_and_the_api(tmp_path):
    from api.settings import Settings
    from tests.api.conftest import running

    b, _ = small()
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with running(Settings(db_url=url, token_ttl=0), b.catalog) as api:
        r = api.get("/catalog?format=turtle")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/turtle")
        ld = api.get("/catalog?format=cpsv-ap")
        assert ld.headers["content-type"].startswith("application/ld+json")
        assert api.get("/catalog?format=rdf").status_code == 400
    out = tmp_path / "c.ttl"
    done = subprocess.run(
        [sys.executable, "-m", "onething.cli", "export", "--db", url, "--format", "turtle", "-o", str(out)],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""  # not a terminal: no progress
    assert set(graph(out.read_bytes(), "turtle")) == set(graph(r.content, "turtle"))
    assert set(graph(ld.content, "cpsv-ap")) == set(graph(r.content, "turtle"))
