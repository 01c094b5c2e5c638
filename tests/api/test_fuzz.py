"""Property-based fuzz of the OpenAPI schema with every schemathesis check: no 5xx, responses
as documented (status, content type, headers, body), invalid data refused, valid data accepted,
auth not ignored, unsupported methods 405 with a right `Allow`.

Schemathesis draws requests for every API operation from `/schema/openapi.json`, valid
(positive) and invalid (negative) ones, a bounded number of examples each, and sends them,
with an admin token, to a real app over a real SQLite database with the small catalog. Every
operation is run even when an earlier one fails, so one run shows every failure.

A schema-valid request may be refused only as the operation declares (`x-refusals`: status and
problem codes — an unknown region, bundle or answer, a stale If-Match); nothing is accepted
wholesale. The test sends the token itself, so the generator does not treat the Authorization
header as a parameter to negate (a negative case "without" it went out with it and, accepted,
failed the run on the rare example that negated nothing else).
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
    # The token is the test's to send, on every request: a negative case that "drops" the
    # Authorization header would go out with it all the same and be taken for a schema-violating
    # request accepted (what made a long run fail once, on an example that drops the header).
    schema.config.generation.update(with_security_parameters=False)
    # The pages are HTML for people; the fuzz is of the JSON API.
    return schema.exclude(path_regex=r"^/(pages|$)")


def refusals_are_declared(ctx, response, case) -> None:
    """A schema-valid request refused with a status the operation declares in `x-refusals`
    (a region, bundle or answer the catalog does not have; a stale If-Match) carries one of the
    problem codes declared for that status — nothing else may hide behind the status."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    declared = case.operation.definition.raw.get("x-refusals", {}).get(str(response.status_code))
    if declared is None:
        return
    code = response.json().get("code")
    assert code in declared, f"{case.operation.label}: {response.status_code} {code}, declared: {declared}"
    return


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def test_api_never_fails_and_keeps_its_schema(fuzz_schema, fuzz_app):
    load_all_checks()
    checks = CHECKS.get_all()
    assert len(checks) >= 12
    headers = {"Authorization": f"Bearer {fuzz_app.state.fuzz_token}"}
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    config = fuzz_schema.config.checks
    positive, missing_header = config.positive_data_acceptance, config.missing_required_header
    defaults = (list(positive.expected_statuses), list(missing_header.expected_statuses))
    for operation in operations:
        # What the operation's schema declares it refuses of valid requests is accepted of
        # them (and checked to carry a declared code); nothing else is.
        refusals = operation.definition.raw.get("x-refusals", {})
        positive.expected_statuses = [*defaults[0], *refusals]
        required = {p["name"] for p in operation.definition.raw.get("parameters", []) if p.get("required")}
        missing_header.expected_statuses = [*defaults[1], *(["428"] if "If-Match" in required else [])]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @SETTINGS
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=dict(headers), checks=[*checks, refusals_are_declared])

            try:
                fuzz()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # nothing to get wrong (GET /health)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together below
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
