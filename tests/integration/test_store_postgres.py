"""The whole store suite (tests/unit/test_store_suite.py) again, on a real PostgreSQL server."""

from __future__ import annotations

import pytest

from tests.pg import postgres_url  # noqa: F401  (session fixture)
from tests.unit.test_store_suite import *  # noqa: F403  (the same test functions, collected here too)

pytestmark = pytest.mark.integration


@pytest.fixture
def store_url(postgres_url: str) -> str:  # noqa: F811
    return postgres_url


def test_postgres_store_uses_postgres(store) -> None:  # type: ignore[no-untyped-def]  # noqa: F405
    assert store.dialect == "postgresql"
