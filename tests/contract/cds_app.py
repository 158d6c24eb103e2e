"""One way to build the app for CDS Hooks contract tests: temp SQLite store, loopback bind, short deadlines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from app import create_app


def make_app(tmp_path: Path, **overrides: Any) -> Flask:
    config: dict[str, Any] = {
        "TESTING": True,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cds.db'}",
        "BIND_HOST": "127.0.0.1",
        "FHIR_DEADLINE_SECONDS": 2.0,
        "FHIR_TIMEOUT_SECONDS": 1.0,
    }
    config.update(overrides)
    return create_app(config)
