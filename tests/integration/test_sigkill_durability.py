"""SIGKILL the server (master and workers) in the middle of a burst of consultations: every consultation
whose response reached the client is in the store afterwards.

The server is gunicorn with 2 sync workers on 127.0.0.1 serving :func:`make_app` — the real store
(SQLite WAL, ``synchronous=FULL``, under ``SPINE_AUC_DATA_DIR``), the real authenticator and the
consultations API, plus probe routes that only this test app registers. (``create_app`` is not used
because it also needs the full criteria set; the write path exercised is the same
``ConsultationStore.record_consultations`` every endpoint calls before answering.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Blueprint, Flask, Response, current_app, jsonify, request

from app import web_errors
from app.auth import authenticator_from_config
from app.config import load_config
from app.consultations_api import bp as consultations_bp
from app.store import ConsultationStore

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def make_app() -> Flask:
    """The test server: store + authenticator wired as in ``create_app``, plus probe routes."""
    config = load_config()
    app = Flask("spine_auc_probe")
    app.config.update(config)
    web_errors.register(app)
    Path(config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    store = ConsultationStore.from_url(config["DATABASE_URL"])
    app.extensions["spine_auc.store"] = store
    app.extensions["spine_auc.cds_auth"] = authenticator_from_config(config, store)
    app.register_blueprint(consultations_bp)
    probe = Blueprint("probe", __name__)

    @probe.post("/test/consult")
    def consult() -> Any:
        consultation_id = f"urn:uuid:{uuid.uuid4()}"
        current_app.extensions["spine_auc.store"].record_consultations(
            [
                {
                    "consultationId": consultation_id,
                    "serviceRequest": "ServiceRequest/burst",
                    "status": "rated",
                    "score": 8,
                    "category": "usually-appropriate",
                    "pamaRating": "appropriate",
                    "reasons": [],
                    "criteriaVersion": "test",
                }
            ],
            hook_instance=None,
            request_id=request.headers.get("X-Request-Id"),
            caller_iss=None,
            tenant=None,
            patient="Patient/burst",
            latency_ms=0.0,
        )
        return jsonify({"consultationId": consultation_id})

    @probe.get("/test/sleep")
    def sleep() -> Any:
        time.sleep(float(request.args.get("s", "1")))
        return jsonify({"slept": True})

    @probe.get("/cds-services")
    def discovery() -> Any:
        current_app.extensions["spine_auc.cds_auth"].authenticate(
            request.headers.get("Authorization"), audience_url=request.base_url
        )
        return jsonify({"services": []})

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


def start_gunicorn(tmp_path: Path, env_extra: dict[str, str] | None = None) -> Server:
    port = free_port()
    data_dir = tmp_path / "data"
    log = tmp_path / "gunicorn.log"
    env = dict(os.environ)
    env.update({"SPINE_AUC_DATA_DIR": str(data_dir), "SPINE_AUC_DATABASE_URL": ""})
    env.update(env_extra or {})
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "--workers", "2", "--worker-class", "sync",
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
    deadline = time.monotonic() + 30
    pids: set[str] = set()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("gunicorn exited:\n" + log.read_text(errors="replace")[-3000:])
        try:
            response = requests.get(server.url + "/api/v1/consultations?patient=Patient/none", timeout=2)
            if response.status_code == 200:
                pids.add(response.headers["X-Worker-Pid"])
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    server.kill()
    raise AssertionError("gunicorn did not answer:\n" + log.read_text(errors="replace")[-3000:])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = start_gunicorn(tmp_path)
    yield started
    started.kill()


def test_every_acknowledged_consultation_survives_sigkill(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    acknowledged: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Event()

    def fire() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                response = session.post(server.url + "/test/consult", json={}, timeout=5)
            except requests.RequestException as exc:
                with lock:
                    failures.append(type(exc).__name__)
                continue
            if response.status_code == 200:
                with lock:
                    acknowledged.append(response.json()["consultationId"])
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
