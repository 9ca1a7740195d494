"""Schema-driven fuzzing of the integrator API: schemathesis reads the project's own
OpenAPI schema from /api/v1/schema/ and calls every operation through the WSGI app (in
the test's transaction) with a key holding every scope. No answer may be a 500, and
every answer must match what the schema says of it (status code, content type, headers,
body).

Kept bounded and repeatable: a few examples per operation, derandomised, no example
database, positive cases only (the intake tests cover refusals field by field)."""

from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from civicpulse.apikeys.services import api_key_create
from civicpulse.wsgi import application

HOST = "alpha.localhost"  # tenant A of tests/conftest.py
EXAMPLES_PER_OPERATION = 15


@pytest.fixture
def keep_connection() -> Iterator[None]:
    """Django closes the database connection at each request's end; Django's own test
    client stops that (the test's transaction lives on it), and so must this WSGI one."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_key(tenant_a) -> str:
    return api_key_create(name="fuzz", scopes=["submit", "read", "staff", "property"])[1]


@pytest.fixture
def api_schema(tenant_a, fuzz_key, keep_connection):
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/schema/?format=json", application, headers={"Host": HOST}
    )
    schema.config.generation.update(
        modes=["positive"],
        max_examples=EXAMPLES_PER_OPERATION,
        deterministic=True,
        database="none",
        allow_x00=False,
        with_security_parameters=False,
    )
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_own_schema(case, fuzz_key) -> None:
    # Schema-valid requests may still be refused by rules a schema cannot state (a
    # workflow move from the current status, a bounding box whose south lies
    # north of its north): those 400s are right, so acceptance is not demanded.
    case.call_and_validate(
        headers={"Host": HOST, "Authorization": f"Api-Key {fuzz_key}"},
        excluded_checks=[positive_data_acceptance],
    )
