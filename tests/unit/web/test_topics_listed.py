"""Every ACR topic of criteria/manifest.json is named by the discovery document, the OpenAPI document and the README
(issue #11: the thoracic topic is listed wherever the topics are)."""

from __future__ import annotations

import json
from pathlib import Path

from app.cds.service import SERVICES
from app.web.openapi import TOPIC_IDS

ROOT = Path(__file__).resolve().parents[3]


def _topics() -> list[dict[str, str]]:
    manifest = json.loads((ROOT / "criteria" / "manifest.json").read_text(encoding="utf-8"))
    return [json.loads((ROOT / "criteria" / t).read_text(encoding="utf-8")) for t in manifest["topics"]]


def test_openapi_lists_every_topic_id() -> None:
    assert sorted(TOPIC_IDS) == sorted(t["id"] for t in _topics())


def test_discovery_names_every_topic() -> None:
    for service in SERVICES.values():
        for topic in _topics():
            assert topic["title"] in service.description, (service.id, topic["title"])


def test_readme_names_every_topic_and_the_thoracic_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for topic in _topics():
        assert f"{topic['title']} {topic['version'].split()[0]}" in readme or topic["title"] in readme
    assert "Thoracic Back Pain 2024" in readme
    example = "fhir_fixtures/examples/tbp-region-mismatch-lumbar-mri.json"
    assert example in readme and (ROOT / example).is_file()
