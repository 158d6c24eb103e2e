"""Every setting the README documents is read from the environment (#12 finding 6)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.config import DEFAULTS, load_config

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_settings() -> list[str]:
    """The names in the first column of the README's configuration table."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    names: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1])
    return names


def different_value(name: str) -> tuple[str, Any]:
    """An environment string for ``name`` and the value it must give, never the default."""
    default = DEFAULTS[name]
    if isinstance(default, bool):
        return ("0", False) if default else ("1", True)
    if isinstance(default, int):
        return str(default + 7), default + 7
    if isinstance(default, float):
        return str(default + 1.5), default + 1.5
    if isinstance(default, list):
        value = (
            [{"iss": "https://issuer.test", "jwks_file": "k.json"}]
            if "ISSUERS" in name
            else ["https://a.test"]
        )
        return json.dumps(value), value
    return f"/env/{name.lower()}", f"/env/{name.lower()}"


def test_the_readme_documents_settings() -> None:
    names = documented_settings()
    assert len(names) >= 15
    assert {"CDS_CORS_ORIGINS", "PUBLIC_BASE_URL", "API_TRUSTED_ISSUERS"} <= set(names)


@pytest.mark.parametrize("name", documented_settings())
def test_each_documented_setting_is_read_from_the_environment(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert name in DEFAULTS, f"{name} is documented but has no default in app/config.py"
    before = load_config()[name]
    raw, expected = different_value(name)
    monkeypatch.setenv(f"SPINE_AUC_{name}", raw)
    after = load_config()[name]
    assert after == expected and after != before


def test_cors_origins_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINE_AUC_CDS_CORS_ORIGINS", "https://ehr.example, https://sandbox.example")
    assert load_config()["CDS_CORS_ORIGINS"] == ["https://ehr.example", "https://sandbox.example"]


def test_cors_origins_and_public_base_url_from_the_environment_reach_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINE_AUC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPINE_AUC_CDS_CORS_ORIGINS", '["https://ehr.example"]')
    monkeypatch.setenv("SPINE_AUC_PUBLIC_BASE_URL", "https://auc.example.org")
    app = create_app()
    assert app.config["PUBLIC_BASE_URL"] == "https://auc.example.org"
    client = app.test_client()
    allowed = client.get("/cds-services", headers={"Origin": "https://ehr.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ehr.example"
    other = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
