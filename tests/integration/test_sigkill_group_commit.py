"""The SIGKILL durability test with threaded workers (``spine-auc serve --threads 4``), where concurrent
requests share group commits: still every acknowledged consultation is in the store afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import gunicorn_worker_class
from tests.integration.test_sigkill_durability import REPO, Server, _wait_until_serving, free_port
from tests.integration.test_sigkill_durability import (
    test_every_acknowledged_consultation_survives_sigkill as burst_then_sigkill,
)

pytestmark = pytest.mark.integration
THREADS = 4


@pytest.fixture
def threaded_server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    data_dir, log = tmp_path / "data", tmp_path / "gunicorn.log"
    env = dict(os.environ)
    env.update(
        {
            "SPINE_AUC_DATA_DIR": str(data_dir),
            "SPINE_AUC_DATABASE_URL": "",
            "SPINE_AUC_CDS_TRUSTED_ISSUERS": "",
        }
    )
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "--workers", "2", "--worker-class", gunicorn_worker_class(THREADS), "--threads", str(THREADS),
                "--bind", f"127.0.0.1:{port}",
                "--chdir", str(REPO),
                "--graceful-timeout", "1",
                "tests.integration.test_sigkill_durability:make_app()",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = Server(process, f"http://127.0.0.1:{port}", data_dir, log)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        server.kill()


def test_every_acknowledged_consultation_survives_sigkill_with_threaded_workers(
    threaded_server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    burst_then_sigkill(threaded_server, capsys)
