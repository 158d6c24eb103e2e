"""Integration fixtures: a real FHIR R4 server for the whole session.

``fhir_base_url``: ``$SPINE_AUC_TEST_FHIR_BASE`` if set (e.g. a HAPI server), else ``sekmet-fhir`` started
from ``<repo>/.venv-sekmet`` (or ``$SPINE_AUC_SEKMET_VENV``; created on first use). When the server cannot
be installed or started, the tests that need it fail if ``SPINE_AUC_REQUIRE_FHIR_SERVER=1`` (CI) and are
skipped with the reason otherwise. ``loaded_fhir_base_url``: the same server with
``fhir_fixtures/patients/*.json`` loaded once.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.fhir_server import REPO, FhirServerUnavailable, SekmetServer, ensure_venv

PATIENT_FIXTURES = REPO / "fhir_fixtures" / "patients"


def _unavailable(reason: str) -> None:
    if os.environ.get("SPINE_AUC_REQUIRE_FHIR_SERVER") == "1":
        pytest.fail(f"FHIR test server required (SPINE_AUC_REQUIRE_FHIR_SERVER=1) but unavailable: {reason}")
    pytest.skip(f"no FHIR test server: {reason} (set SPINE_AUC_TEST_FHIR_BASE to use another server)")


@pytest.fixture(scope="session")
def fhir_server_timings() -> dict[str, float]:
    """Seconds spent creating the venv and starting the server (filled by ``fhir_base_url``)."""
    return {}


@pytest.fixture(scope="session")
def fhir_base_url(fhir_server_timings: dict[str, float]) -> Iterator[str]:
    external = os.environ.get("SPINE_AUC_TEST_FHIR_BASE")
    if external:
        yield external.rstrip("/")
        return
    try:
        fhir_server_timings["venv_seconds"] = ensure_venv()
    except FhirServerUnavailable as exc:
        _unavailable(str(exc))
    server = SekmetServer()
    try:
        base = server.start()
    except (FhirServerUnavailable, OSError) as exc:
        server.stop()
        _unavailable(str(exc))
    fhir_server_timings["start_seconds"] = server.start_seconds
    print(
        f"\n[sekmet-fhir] venv {fhir_server_timings['venv_seconds']:.1f} s, "
        f"start {server.start_seconds:.1f} s, base {base}",
        file=sys.stderr,
    )
    try:
        yield base
    finally:
        server.stop()


@pytest.fixture(scope="session")
def loaded_fixtures_report(fhir_base_url: str) -> dict[str, Any]:
    """Load ``fhir_fixtures/patients/*.json`` once; the loader's report (counts, rejected resources)."""
    from app.fhir.client import FhirClient
    from app.fhir.fixtures import load_fixtures

    if not PATIENT_FIXTURES.is_dir() or not any(PATIENT_FIXTURES.glob("*.json")):
        pytest.skip(f"no patient fixtures in {PATIENT_FIXTURES}")
    client = FhirClient(fhir_base_url, timeout=30.0, deadline=300.0)
    started = time.monotonic()
    report = load_fixtures(PATIENT_FIXTURES, client)
    report["seconds"] = time.monotonic() - started
    return report


@pytest.fixture(scope="session")
def loaded_fhir_base_url(fhir_base_url: str, loaded_fixtures_report: dict[str, Any]) -> str:
    return fhir_base_url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is an integration test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
