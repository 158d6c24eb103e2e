"""Fuzzing the REST body and the FHIR ``$appropriateness`` operation (#12 finding 3): never a 500."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings

from tests.contract.cds_app import make_app
from tests.contract.fuzzing import check_answer, encode, mutated, rest_bundles

BUNDLES = rest_bundles()
PARAMETERS = [
    {"resourceType": "Parameters", "parameter": [{"name": "request", "resource": bundle}]}
    for bundle in BUNDLES
]
FUZZ = settings(
    derandomize=True,
    max_examples=int(os.environ.get("SPINE_AUC_FUZZ_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    app = make_app(
        Path(tmp_path_factory.mktemp("fuzz-api")), FHIR_DEADLINE_SECONDS=0.5, FHIR_TIMEOUT_SECONDS=0.2
    )
    yield app.test_client()


@FUZZ
@given(doc=mutated(BUNDLES))
def test_fuzzed_rest_bodies_never_get_a_500(client: FlaskClient, doc: Any) -> None:
    response = client.post("/api/v1/appropriateness", data=encode(doc), content_type="application/json")
    check_answer(response, {"results"})


@FUZZ
@given(doc=mutated(PARAMETERS + BUNDLES))
def test_fuzzed_fhir_operation_bodies_never_get_a_500(client: FlaskClient, doc: Any) -> None:
    response = client.post(
        "/fhir/ServiceRequest/$appropriateness", data=encode(doc), content_type="application/fhir+json"
    )
    check_answer(response, {"Bundle"})
