"""Fuzzing the CDS Hooks envelope (#12 finding 3): every answer < 500, cards or an OperationOutcome."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings

from tests.contract.cds_app import make_app
from tests.contract.fuzzing import check_answer, encode, hook_requests, mutated

BASES = hook_requests()
SERVICES = ["/cds-services/spine-auc-order-select", "/cds-services/spine-auc-order-sign"]
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
    # No fhirServer is reachable: a mutated fhirServer must fail fast, never hang a fuzz case.
    app = make_app(
        Path(tmp_path_factory.mktemp("fuzz-cds")), FHIR_DEADLINE_SECONDS=0.5, FHIR_TIMEOUT_SECONDS=0.2
    )
    yield app.test_client()


@FUZZ
@given(doc=mutated(BASES))
def test_fuzzed_cds_requests_never_get_a_500(client: FlaskClient, doc: Any) -> None:
    if isinstance(doc, dict) and isinstance(doc.get("hookInstance"), str):
        doc["hookInstance"] = str(uuid.uuid4())
    hook = doc.get("hook") if isinstance(doc, dict) else None
    path = SERVICES[1] if hook == "order-sign" else SERVICES[0]
    response = client.post(path, data=encode(doc), content_type="application/json")
    check_answer(response, {"cards"})
