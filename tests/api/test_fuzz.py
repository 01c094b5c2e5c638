"""Property-based fuzz of the OpenAPI schema with every schemathesis check: no 5xx, responses
as documented (status, content type, headers, body), invalid data refused, valid data accepted,
auth not ignored, unsupported methods 405 with a right `Allow`.

Schemathesis draws requests for every API operation from `/schema/openapi.json`, valid
(positive) and invalid (negative) ones, a bounded number of examples each, and sends them,
with an admin token, to a real app over a real SQLite database with the small catalog. Every
operation is run even when an earlier one fails, so one run shows every failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

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
    # Schema-valid requests the API refuses on purpose, documented as such: 412 (If-Match names a
    # version that is not current) and 422 (valid JSON, refused by the catalog's rules: a bundle
    # that does not validate, items not implemented in the region, an empty catalog upload).
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "412", "422"]
    # The pages are HTML for people; the fuzz is of the JSON API.
    return schema.exclude(path_regex=r"^/(pages|$)")


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def test_api_never_fails_and_keeps_its_schema(fuzz_schema, fuzz_app):
    load_all_checks()
    checks = CHECKS.get_all()
    assert len(checks) >= 12
    headers = {"Authorization": f"Bearer {fuzz_app.state.fuzz_token}"}
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @SETTINGS
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=checks)

            try:
                fuzz()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # nothing to get wrong (GET /health)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together below
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
