"""SIGKILL the server (master and workers) in the middle of a burst of consultations: every consultation
whose response reached the client is in the store afterwards.

The server is the real app (``create_app``) under gunicorn with 2 sync workers on 127.0.0.1, its store
SQLite (WAL, ``synchronous=FULL``) under a temporary ``SPINE_AUC_DATA_DIR``. The burst is real
``POST /api/v1/appropriateness`` calls with a bundled example order. :func:`make_app` adds only a
``/test/sleep`` route (to hold a worker busy) and an ``X-Worker-Pid`` header, for the replay test.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Blueprint, Flask, Response, jsonify, request

from app import create_app
from app.cli import gunicorn_worker_class
from app.store.consultations import ConsultationStore

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "fhir_fixtures" / "examples" / "lbp-v3-mri.json"


def make_app() -> Flask:
    """The real app plus a test-only sleep route and the answering worker's pid on every response."""
    app = create_app()
    probe = Blueprint("probe", __name__)

    @probe.get("/test/sleep")
    def sleep() -> Any:
        time.sleep(float(request.args.get("s", "1")))
        return jsonify({"slept": True})

    @app.after_request
    def _pid(response: Response) -> Response:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    app.register_blueprint(probe)
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # master and both workers: one process group
            self.process.wait(timeout=10)


def start_gunicorn(tmp_path: Path, env_extra: dict[str, str] | None = None, *, threads: int = 1) -> Server:
    """Two gunicorn workers serving ``make_app()``: sync, or gthread with ``threads`` per worker."""
    port = free_port()
    data_dir = tmp_path / "data"
    log = tmp_path / "gunicorn.log"
    env = dict(os.environ)
    env.update(
        {
            "SPINE_AUC_DATA_DIR": str(data_dir),
            "SPINE_AUC_DATABASE_URL": "",
            "SPINE_AUC_CDS_TRUSTED_ISSUERS": "",
        }
    )
    env.update(env_extra or {})
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "--workers", "2", "--worker-class", gunicorn_worker_class(threads), "--threads", str(threads),
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
    except BaseException:
        server.kill()  # never leave a server behind when start-up fails
        raise
    return server


def _wait_until_serving(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError("gunicorn exited:\n" + server.log.read_text(errors="replace")[-3000:])
        try:
            response = requests.get(server.url + "/healthz", timeout=5)
            if response.status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet, or the worker is still loading the app
        time.sleep(0.1)
    raise AssertionError("gunicorn did not answer:\n" + server.log.read_text(errors="replace")[-3000:])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = start_gunicorn(tmp_path)
    yield started
    started.kill()


def test_every_acknowledged_consultation_survives_sigkill(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.loads(EXAMPLE.read_text())
    acknowledged: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Event()

    def fire() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                response = session.post(server.url + "/api/v1/appropriateness", json=body, timeout=5)
            except requests.RequestException as exc:
                with lock:
                    failures.append(type(exc).__name__)
                continue
            if response.status_code == 200:
                with lock:
                    acknowledged.extend(r["consultationId"] for r in response.json()["results"])
                    if len(acknowledged) >= 150:
                        enough.set()

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for t in threads:
        t.start()
    enough.wait(timeout=60)
    server.kill()  # SIGKILL mid-burst: requests are in flight in both workers
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(acknowledged) >= 150, f"burst too small: {len(acknowledged)}"
    assert failures, "the kill should have cut requests off mid-burst"

    store = ConsultationStore.from_url(f"sqlite:///{server.data_dir / 'spine-auc.db'}")
    missing = [cid for cid in acknowledged if store.get_consultation(cid) is None]
    rows = store.count_consultations()
    store.close()
    with capsys.disabled():
        print(
            f"\n[sigkill] acknowledged={len(acknowledged)} rows_found={rows} "
            f"acknowledged_missing={len(missing)} cut_off_requests={len(failures)}"
        )
    assert missing == []
    assert rows >= len(acknowledged)
