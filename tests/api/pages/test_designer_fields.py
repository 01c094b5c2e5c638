"""The designer's words for a form field the bundle's type refuses: found by checking each field
against its declared type (`msgspec.structs.fields`), the first in the type's order."""

from __future__ import annotations

import msgspec
import pytest

from api.pages.designer import FIELD_MESSAGES, _field_message
from api.schemas import BundleCreate, BundleReplace

GOOD = {"id": "b-1", "name": "出生一件事", "items": ["A1", "A2"], "description": ""}
GENERIC = "填写的内容不符合要求，请检查编号、名称和说明。"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "-starts-with-a-dash"}, "id"),
        ({"id": "中文编号", "name": ""}, "id"),  # the first refused field in the type's order
        ({"name": ""}, "name"),
        ({"items": ["A1", "has space"]}, "items"),
        ({"items": ["A1"] * 201}, "items"),
        ({"description": "x" * 5001}, "description"),
    ],
)
def test_the_first_refused_field_is_named(change: dict, field: str) -> None:
    payload = GOOD | change
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(payload, BundleCreate)
    assert _field_message(payload, BundleCreate) == FIELD_MESSAGES[field]


def test_a_field_without_words_of_its_own_is_the_general_message() -> None:
    payload = GOOD | {"regions": ["has space"]}
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(payload, BundleCreate)
    assert _field_message(payload, BundleCreate) == GENERIC


def test_a_replace_has_no_id_to_blame() -> None:
    payload = {k: v for k, v in GOOD.items() if k != "id"} | {"name": ""}
    assert _field_message(payload, BundleReplace) == FIELD_MESSAGES["name"]
