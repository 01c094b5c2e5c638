"""CPSV-AP nodes → JSON-LD (with the official 3.2.0 context, embedded) or Turtle, written one
node at a time: the output is never held in memory."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

from .graph import XSD, Lit, Node, Obj

CONTEXT_FILE = Path(__file__).with_name("cpsv-ap.jsonld")
CONTEXT_URL = "https://semiceu.github.io/CPSV-AP/releases/3.2.0/context/cpsv-ap.jsonld"

PREFIXES = {
    "cpsv": "http://purl.org/vocab/cpsv#",
    "m8g": "http://data.europa.eu/m8g/",
    "dct": "http://purl.org/dc/terms/",
    "eli": "http://data.europa.eu/eli/ontology#",
    "locn": "http://www.w3.org/ns/locn#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "time": "http://www.w3.org/2006/time#",
    "xsd": XSD,
}


@cache
def context() -> dict:
    """The official context object (`{"Address": …, "PublicService.name": …}`)."""
    return json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))["@context"]


@cache
def _terms() -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """(class IRI -> class term, (class term, property IRI) -> property term)."""
    classes: dict[str, str] = {}
    props: dict[tuple[str, str], str] = {}
    for term, value in context().items():
        if isinstance(value, str):
            classes.setdefault(value, term)
        elif "." in term:
            owner, _ = term.split(".", 1)
            props[owner, value["@id"]] = term
    return classes, props


def _key(node: Node, predicate: str) -> str:
    classes, props = _terms()
    for cls in node.types or (node.scope,):
        term = props.get((classes.get(cls, ""), predicate))
        if term is not None:
            return term
    return predicate


def _value(obj: Obj) -> dict[str, str]:
    if isinstance(obj, Lit):
        out = {"@value": obj.value}
        if obj.lang:
            out["@language"] = obj.lang
        elif obj.datatype:
            out["@type"] = obj.datatype
        return out
    return {"@id": obj}


def node_object(node: Node) -> dict:
    """One node as a JSON-LD node object keyed by the context's terms (an IRI where the context
    has none); values are explicit (`@id`, `@value` + `@language`/`@type`), never coerced."""
    classes, _ = _terms()
    out: dict = {"@id": node.id}
    if node.types:
        out["@type"] = [classes.get(t, t) for t in node.types]
    for predicate, obj in node.props:
        out.setdefault(_key(node, predicate), []).append(_value(obj))
    return out


def jsonld(nodes: Iterable[Node]) -> Iterator[bytes]:
    """`{"@context": <the official context>, "@graph": [node, …]}`, a node per line."""
    yield b'{"@context":' + json.dumps(context(), ensure_ascii=False).encode() + b',\n"@graph":[\n'
    first = True
    for node in nodes:
        line = json.dumps(node_object(node), ensure_ascii=False, separators=(",", ":")).encode()
        yield line if first else b",\n" + line
        first = False
    yield b"\n]}\n"


def _name(value: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if value.startswith(namespace):
            local = value[len(namespace) :]
            if local and local.replace("_", "a").isalnum() and local.isascii() and local[0].isalpha():
                return f"{prefix}:{local}"
    return f"<{value}>"


_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def _term(obj: Obj) -> str:
    if isinstance(obj, Lit):
        text = '"' + obj.value.translate(_ESCAPES) + '"'
        if obj.lang:
            return f"{text}@{obj.lang}"
        if obj.datatype:
            return f"{text}^^{_name(obj.datatype)}"
        return text
    return _name(obj)


def turtle(nodes: Iterable[Node]) -> Iterator[bytes]:
    """The same graph as Turtle: the prefixes, then one block per node."""
    yield "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in PREFIXES.items()).encode() + b"\n"
    for node in nodes:
        parts = []
        if node.types:
            parts.append("a " + ", ".join(_name(t) for t in node.types))
        grouped: dict[str, list[str]] = {}
        for predicate, obj in node.props:
            grouped.setdefault(predicate, []).append(_term(obj))
        parts += [f"{_name(p)} {', '.join(objs)}" for p, objs in grouped.items()]
        if parts:
            yield (f"<{node.id}> " + " ;\n    ".join(parts) + " .\n").encode()


FORMATS = {"cpsv-ap": jsonld, "turtle": turtle}
MEDIA_TYPES = {"cpsv-ap": "application/ld+json", "turtle": "text/turtle", "jsonl": "application/x-ndjson"}
