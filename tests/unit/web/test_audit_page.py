"""/audit over the consultations store: access rules, the charts and filters, the feedback, the drill-down."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.security.api_auth import SCOPE_EVALUATE
from app.security.auditor_auth import SCOPE_AUDIT_READ, digest_of, session_cookie, session_valid
from tests.audit_page_data import REPO, populate
from tests.jwt_keys import KeyPair, api_claims

TOKEN = "auditor-secret-token-1"
ISS = "https://auth.example.org"
AUD = "https://auc.example.org"


def _app(tmp_path: Path, **overrides: Any) -> Flask:
    config = {"TESTING": True, "DATA_DIR": str(tmp_path), "BIND_HOST": "127.0.0.1"} | overrides
    return create_app(config)


def _post(client: FlaskClient) -> Any:
    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = client.post(path, json=body)
        return response.status_code, response.get_json()

    return post


@pytest.fixture
def traffic(tmp_path: Path) -> tuple[Flask, dict[str, Any]]:
    app = _app(tmp_path, AUDITOR_TOKENS=[f"sha256:{digest_of(TOKEN)}"])
    return app, populate(_post(app.test_client()))


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_off_on_a_non_loopback_bind_until_tokens_are_configured(tmp_path: Path) -> None:
    app = _app(tmp_path, BIND_HOST="0.0.0.0")
    assert app.test_client().get("/audit").status_code == 404
    configured = _app(tmp_path, BIND_HOST="0.0.0.0", AUDITOR_TOKENS=[TOKEN])
    assert configured.test_client().get("/audit").status_code == 401
    assert configured.test_client().get("/audit", headers=_auth()).status_code == 200


def test_loopback_without_tokens_is_open_to_loopback_peers_only(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    assert client.get("/audit").status_code == 200
    assert client.get("/audit", environ_overrides={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404


def test_a_token_is_required_once_configured_and_compared_by_hash(traffic: tuple[Flask, Any]) -> None:
    client = traffic[0].test_client()
    refused = client.get("/audit")
    assert refused.status_code == 401 and b'name="token"' in refused.data
    assert client.get("/audit", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/audit/orders?family=total&key=%5B%22all%22%5D").status_code == 401
    assert client.post("/audit/login", data={"token": "wrong"}).status_code == 401
    signed_in = client.post("/audit/login", data={"token": TOKEN})
    assert signed_in.status_code == 303
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    assert client.get("/audit").status_code == 200  # the session cookie


def test_session_cookies_expire_and_cannot_be_forged() -> None:
    digest = digest_of(TOKEN)
    cookie = session_cookie(digest, now=1000)
    assert session_valid(cookie, [digest], 60, now=1030)
    assert not session_valid(cookie, [digest], 60, now=1061)
    assert not session_valid(cookie, [digest_of("other")], 60, now=1030)
    assert not session_valid("1000." + "0" * 64, [digest], 60, now=1030)


def test_the_page_shows_the_traffic_and_the_feedback(traffic: tuple[Flask, Any]) -> None:
    app, sent = traffic
    html = app.test_client().get("/audit", headers=_auth()).get_data(as_text=True)
    total = sent["api"] + sent["cds"]
    assert f'<b id="shown">{total}</b>' in html
    assert re.search(rf'href="/audit/orders\?[^"]*family=total[^"]*">{total}</a> orders evaluated', html)
    for section in (
        "by-topic",
        "by-procedure",
        "by-month",
        "by-requester",
        "missing",
        "mr-safety",
        "swaps",
        "feedback",
    ):
        assert f'id="{section}"' in html
    feedback = html.split('id="feedback"', 1)[1]
    assert "<th>overridden</th><td>1</td>" in feedback and "<th>accepted</th><td>1</td>" in feedback
    assert sent["override_reason"] in feedback and "red flags not yet charted" in feedback


def test_filters_and_drill_down_agree(traffic: tuple[Flask, Any]) -> None:
    client = traffic[0].test_client()
    page = client.get("/audit?category=usually-appropriate", headers=_auth()).get_data(as_text=True)
    shown = int(re.search(r'<b id="shown">(\d+)</b>', page).group(1))
    assert shown >= 1
    orders = client.get(
        "/audit/orders?category=usually-appropriate&family=total&key=%5B%22all%22%5D", headers=_auth()
    )
    listed = orders.get_data(as_text=True)
    assert listed.count("<tr><td>") == shown
    assert "insufficient-data" not in listed
    future = client.get("/audit?from=2999-01-01", headers=_auth()).get_data(as_text=True)
    assert '<b id="shown">0</b>' in future


def test_an_api_client_token_with_the_audit_scope_sees_its_tenant(tmp_path: Path) -> None:
    key = KeyPair("ES384", "api-1")
    issuers = [{"iss": ISS, "jwks_file": key.write_jwks(tmp_path / "jwks.json"), "audiences": [AUD]}]
    app = _app(tmp_path, BIND_HOST="0.0.0.0", API_TRUSTED_ISSUERS=issuers)
    client = app.test_client()

    def bearer(scope: str, tenant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key.sign(api_claims(ISS, AUD, scope, tenant=tenant))}"}

    example = json.loads((REPO / "fhir_fixtures" / "examples" / "lbp-v3-mri.json").read_text())
    for tenant, times in (("clinic-1", 2), ("clinic-2", 1)):
        for _ in range(times):
            response = client.post(
                "/api/v1/appropriateness", json=example, headers=bearer(SCOPE_EVALUATE, tenant)
            )
            assert response.status_code == 200
    assert client.get("/audit").status_code == 401
    assert client.get("/audit", headers=bearer(SCOPE_EVALUATE, "clinic-1")).status_code == 401
    page = client.get("/audit", headers=bearer(SCOPE_AUDIT_READ, "clinic-1"))
    assert page.status_code == 200
    assert '<b id="shown">2</b>' in page.get_data(as_text=True)
    other = client.get("/audit", headers=bearer(SCOPE_AUDIT_READ, "clinic-2")).get_data(as_text=True)
    assert '<b id="shown">1</b>' in other
