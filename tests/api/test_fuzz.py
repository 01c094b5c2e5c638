"""Property-based fuzz of the OpenAPI schema: no 5xx, and documented responses match it.

Schemathesis draws requests for every API operation from `/schema/openapi.json`
(bounded examples, so the run stays well under a minute) and sends them, with an
admin token, to a real app over a real SQLite database with the small catalog.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from api.app import create_app
from api.settings import Settings

from .conftest import small_catalog


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory):
    db = Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.db"
    app = create_app(Settings(db_url=f"sqlite:///{db}", token_ttl=60))
    app.state.store.publish(small_catalog())
    app.state.fuzz_token = app.state.store.create_token("fuzz", "admin")
    yield app
    app.state.store.dispose()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app):
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", fuzz_app)
    # The pages are HTML for people; the fuzz is of the JSON API.
    return schema.exclude(path_regex=r"^/(pages|$)")


SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def test_api_never_fails_and_keeps_its_schema(fuzz_schema, fuzz_app):
    headers = {"Authorization": f"Bearer {fuzz_app.state.fuzz_token}"}
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @SETTINGS
        @given(case=operation.as_strategy())
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        fuzz()
