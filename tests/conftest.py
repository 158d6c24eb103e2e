"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stubserver import StubServer


@pytest.fixture
def stub_server() -> Iterator[StubServer]:
    """A stub HTTP server on 127.0.0.1 for one test; register its routes in the test."""
    with StubServer() as server:
        yield server
