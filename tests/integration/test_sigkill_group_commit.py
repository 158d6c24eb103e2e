"""The SIGKILL durability test with threaded workers (``--worker-class gthread --threads 4``), where concurrent
requests share group commits: still every acknowledged consultation is in the store afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_sigkill_durability import Server, start_gunicorn
from tests.integration.test_sigkill_durability import (
    test_every_acknowledged_consultation_survives_sigkill as burst_then_sigkill,
)

pytestmark = pytest.mark.integration
THREADS = 4


@pytest.fixture
def threaded_server(tmp_path: Path) -> Iterator[Server]:
    server = start_gunicorn(tmp_path, threads=THREADS)
    try:
        yield server
    finally:
        server.kill()


def test_every_acknowledged_consultation_survives_sigkill_with_threaded_workers(
    threaded_server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    # The burst runs against threaded workers, so group commits batch several requests.
    assert "Using worker: gthread" in threaded_server.log.read_text(errors="replace")
    burst_then_sigkill(threaded_server, capsys)  # asserts: every acknowledged consultation is stored
