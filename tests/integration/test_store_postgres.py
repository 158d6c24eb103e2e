"""The whole store suite (tests/unit/store/test_store_suite.py) again, on a real PostgreSQL server."""

from __future__ import annotations

import pytest

from app.store.consultations import ConsultationStore
from tests.pg import postgres_url  # noqa: F401  (session fixture)
from tests.unit.store.test_store_suite import *  # noqa: F403  (the same test functions, collected here too)

pytestmark = pytest.mark.integration


@pytest.fixture  # type: ignore[no-redef]
def store_url(postgres_url: str) -> str:  # noqa: F811  (overrides the SQLite fixture)
    return postgres_url


def test_postgres_store_uses_postgres(store: ConsultationStore) -> None:
    assert store.dialect == "postgresql"


del test_sqlite_store_is_wal_with_full_sync  # noqa: F821  (SQLite-only; nothing to check on PostgreSQL)
