"""A JWT replayed to the other gunicorn worker is refused: the ``jti`` cache lives in the shared store."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.integration.test_sigkill_durability import Server, start_gunicorn

pytestmark = pytest.mark.integration

ISS = "https://ehr.example.org"
AUDIENCE_BASE = "https://cds.example.org/cds-services"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture
def server(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> Iterator[Server]:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "alg": "ES384", "use": "sig"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    issuers = [{"iss": ISS, "jwks_file": str(jwks), "audiences": [AUDIENCE_BASE]}]
    started = start_gunicorn(tmp_path, {"SPINE_AUC_CDS_TRUSTED_ISSUERS": json.dumps(issuers)})
    yield started
    started.kill()


def token(key: ec.EllipticCurvePrivateKey) -> str:
    now = int(time.time())
    claims = {"iss": ISS, "aud": AUDIENCE_BASE, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": "k1", "typ": "JWT"})


def discover(server: Server, jwt_token: str) -> requests.Response:
    return requests.get(
        server.url + "/cds-services", headers={"Authorization": f"Bearer {jwt_token}"}, timeout=10
    )


def test_same_jwt_to_the_other_worker_is_401(server: Server, key: ec.EllipticCurvePrivateKey) -> None:
    # Keep worker X busy so the token goes to worker Y; then keep Y busy so the replay goes to X.
    def slow(seconds: float, into: list[Any]) -> None:
        into.append(requests.get(server.url + f"/test/sleep?s={seconds}", timeout=20))

    busy_x: list[Any] = []
    hold_x = threading.Thread(target=slow, args=(2.0, busy_x))
    hold_x.start()
    time.sleep(0.4)
    reused = token(key)
    first = discover(server, reused)
    assert first.status_code == 200
    worker_y = first.headers["X-Worker-Pid"]
    busy_y: list[Any] = []
    hold_y = threading.Thread(target=slow, args=(3.0, busy_y))
    hold_y.start()
    hold_x.join()
    worker_x = busy_x[0].headers["X-Worker-Pid"]
    assert worker_x != worker_y
    replay = discover(server, reused)
    fresh = discover(server, token(key))
    hold_y.join()
    assert busy_y[0].headers["X-Worker-Pid"] == worker_y
    assert replay.headers["X-Worker-Pid"] == worker_x, "the replay must reach the other worker"
    assert replay.status_code == 401
    assert replay.json()["resourceType"] == "OperationOutcome"  # generic: no reason given
    assert replay.headers["WWW-Authenticate"].startswith("Bearer ")
    assert fresh.status_code == 200 and fresh.headers["X-Worker-Pid"] == worker_x


def test_concurrent_replays_across_workers_have_one_winner(
    server: Server, key: ec.EllipticCurvePrivateKey
) -> None:
    # Each round sends 30 fresh tokens three times each, concurrently. Which worker accepts a connection is the
    # kernel's choice: on a loaded machine one worker can take a whole round, so rounds repeat (at most 5) until
    # both workers have answered; every round's tokens must have exactly one winner.
    by_token: dict[str, list[int]] = {}
    pids: set[str] = set()
    for _round in range(5):
        tokens = [token(key) for _ in range(30)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda t: (t, discover(server, t)), tokens + tokens + tokens))
        for t, response in results:
            by_token.setdefault(t, []).append(response.status_code)
            pids.add(response.headers["X-Worker-Pid"])
        if len(pids) == 2:
            break
    assert len(pids) == 2, "both workers should have answered"
    for codes in by_token.values():
        assert sorted(codes) == [200, 401, 401]


def test_wrong_audience_and_unknown_issuer_are_401_through_gunicorn(
    server: Server, key: ec.EllipticCurvePrivateKey
) -> None:
    now = int(time.time())
    base = {"iat": now, "exp": now + 300}
    wrong_aud = jwt.encode(
        {**base, "iss": ISS, "aud": "https://other/cds-services", "jti": str(uuid.uuid4())},
        key, algorithm="ES384", headers={"kid": "k1"},
    )  # fmt: skip
    unknown_iss = jwt.encode(
        {**base, "iss": "https://nobody", "aud": AUDIENCE_BASE, "jti": str(uuid.uuid4())},
        key, algorithm="ES384", headers={"kid": "k1"},
    )  # fmt: skip
    assert discover(server, wrong_aud).status_code == 401
    assert discover(server, unknown_iss).status_code == 401
    assert requests.get(server.url + "/cds-services", timeout=10).status_code == 401
