"""The README's two issuer recipes, run exactly as printed (#12 findings 1 and 6).

Each recipe's ``sh`` block is taken from README.md: its ``export`` lines are the service's whole
``SPINE_AUC_*`` environment and its last line must be ``spine-auc serve`` (run here on a free loopback
port: ``PUBLIC_BASE_URL`` fixes the audience, so the port does not matter). Then a correctly signed call
answers 200 and an unauthenticated consultation read answers 401.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from tests.integration.serve import Served, serve
from tests.jwt_keys import KeyPair, api_claims, cds_claims
from tests.unit.security.test_cds_auth import SANDBOX_KID, SANDBOX_PRIVATE_PEM

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
HOOK = json.loads((REPO / "fhir_fixtures" / "hooks" / "prefetch-full-rated-appropriate.json").read_text())


def recipe(heading: str) -> tuple[dict[str, str], list[str]]:
    """The ``export`` variables and the command of the first ``sh`` block under ``heading``."""
    section = README[README.index(heading) :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, f"no sh block under {heading}"
    env: dict[str, str] = {}
    command: list[str] = []
    for statement in _statements(block.group(1)):
        words = shlex.split(statement)
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
        else:
            command = words
    assert command[:2] == [".venv/bin/spine-auc", "serve"], command
    return env, command


def _statements(script: str) -> Iterator[str]:
    """Shell statements: lines joined while a single quote is open."""
    pending = ""
    for line in script.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.count("'") % 2 == 0:
            if pending.strip():
                yield pending
            pending = ""


def hook_request() -> dict[str, Any]:
    body = dict(HOOK["request"])
    body["fhirServer"] = "http://127.0.0.1:8090/fhir"  # the sandbox always names its FHIR server
    return body


@pytest.fixture(scope="module")
def cds_recipe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict[str, str]]]:
    env, _command = recipe("### Recipe: a CDS client issuer")
    running = serve(tmp_path_factory.mktemp("cds-recipe"), env, cwd=REPO)
    yield running, env
    running.stop()


def test_cds_recipe_accepts_the_sandboxs_signed_calls(cds_recipe: tuple[Served, dict[str, str]]) -> None:
    served, env = cds_recipe
    public = env["SPINE_AUC_PUBLIC_BASE_URL"]
    # The sandbox's published key pair, signing as its jwt-generator.js does.
    private = serialization.load_pem_private_key(SANDBOX_PRIVATE_PEM, password=None)
    sandbox = KeyPair.from_private(private, "ES384", SANDBOX_KID)
    jku = {"jku": "https://sandbox.cds-hooks.org/.well-known/jwks.json"}
    iss = "https://sandbox.cds-hooks.org"

    discovery = requests.get(
        served.url + "/cds-services",
        headers={"Authorization": f"Bearer {sandbox.sign(cds_claims(iss, public + '/cds-services'), jku)}"},
        timeout=10,
    )
    assert discovery.status_code == 200, discovery.text
    service_url = public + "/cds-services/" + HOOK["service"]
    token = sandbox.sign(cds_claims(iss, service_url), jku)
    answered = requests.post(
        served.url + "/cds-services/" + HOOK["service"],
        json=hook_request(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["cards"], "the signed call was rated"

    unsigned = requests.post(served.url + "/cds-services/" + HOOK["service"], json=hook_request(), timeout=30)
    assert unsigned.status_code == 401
    read = requests.get(served.url + "/api/v1/consultations?patient=Patient/pt-1", timeout=10)
    assert read.status_code == 401 and read.json()["resourceType"] == "OperationOutcome"
    assert read.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.fixture(scope="module")
def api_key() -> KeyPair:
    return KeyPair("ES384", "scheduler-key-1")


@pytest.fixture(scope="module")
def api_recipe(
    tmp_path_factory: pytest.TempPathFactory, api_key: KeyPair
) -> Iterator[tuple[Served, dict[str, str]]]:
    env, _command = recipe("### Recipe: an API client issuer")
    where = tmp_path_factory.mktemp("api-recipe")
    (where / "var").mkdir()
    api_key.write_jwks(where / "var" / "api-clients-jwks.json")  # "the client's public JWK Set"
    running = serve(where, env, cwd=where)
    yield running, env
    running.stop()


def test_api_recipe_accepts_a_signed_client_and_refuses_anonymous_reads(
    api_recipe: tuple[Served, dict[str, str]], api_key: KeyPair
) -> None:
    served, env = api_recipe
    issuer = json.loads(env["SPINE_AUC_API_TRUSTED_ISSUERS"])[0]
    scopes = "system/spine-auc.appropriateness system/spine-auc.consultations.read"
    claims = api_claims(issuer["iss"], env["SPINE_AUC_PUBLIC_BASE_URL"], scopes, sub=issuer["clients"][0])
    headers = {"Authorization": f"Bearer {api_key.sign(claims)}"}
    example = json.loads((REPO / "fhir_fixtures" / "examples" / "lbp-v3-mri.json").read_text())
    evaluated = requests.post(
        served.url + "/api/v1/appropriateness", json=example, headers=headers, timeout=30
    )
    assert evaluated.status_code == 200, evaluated.text
    consultation = evaluated.json()["results"][0]["consultationId"]
    read = requests.get(served.url + f"/api/v1/consultations/{consultation}", headers=headers, timeout=10)
    assert read.status_code == 200 and read.json()["audit"]["tenant"] == issuer["clients"][0]

    anonymous = requests.get(served.url + f"/api/v1/consultations/{consultation}", timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["resourceType"] == "OperationOutcome"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer ")
