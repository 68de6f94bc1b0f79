"""schemathesis against the real backend's admin API: every operation of /sim/openapi.json called with
data drawn from its own schema, valid and not (positive and negative generation), on a loopback port,
on SQLite and PostgreSQL. Every answer must not be a server error, must have a status the document
declares for the operation, and a body that matches the schema declared for that status."""

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

EXAMPLES = 12 * int(os.environ.get("POS_SIM_FUZZ_SCALE", "1"))
"""Examples an operation: 12 keeps the file near half a minute on SQLite and PostgreSQL (POS_SIM_FUZZ_SCALE=10 by hand)."""
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def admin_api(backend):
    schema = schemathesis.openapi.from_url(f"{backend.url}/sim/openapi.json", timeout=10)
    schema.config.update(base_url=backend.url)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES)
    return schema


api = schemathesis.pytest.from_fixture("admin_api")


@api.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_admin_call_answers_as_its_openapi_document_says(case):
    case.call_and_validate(checks=CHECKS, timeout=30)


def test_the_document_declares_the_errors_the_admin_api_answers_and_not_fastapis_422(backend):
    document = requests.get(f"{backend.url}/sim/openapi.json", timeout=10).json()
    operations = {(path, method): operation for path, methods in document["paths"].items() for method, operation in methods.items()}
    assert len([key for key in operations if key[0].startswith("/sim/")]) >= 20  # the fuzzing above had them all to call
    assert not any("422" in operation["responses"] for operation in operations.values())
    assert {"400", "403", "413", "415"} <= set(operations["/sim/wallets", "post"]["responses"])
    assert "404" in operations["/sim/wallets/{wallet_id}", "get"]["responses"]
    assert "409" in operations["/sim/merchants", "post"]["responses"]
    error = operations["/sim/wallets", "post"]["responses"]["400"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"} and "ValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["NewWallet"]["additionalProperties"] is False  # unknown members refused
