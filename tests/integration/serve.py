"""Start the real ``spine-auc serve`` (gunicorn) on a free loopback port, with its logs in files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.jwt_keys import free_port

SPINE_AUC = Path(sys.executable).with_name("spine-auc")


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    stdout: Path
    stderr: Path

    def stop(self) -> None:
        """SIGTERM to the server's own process group (master and workers), then wait."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def logs(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")


def serve(tmp_path: Path, env: dict[str, str], *, cwd: Path, workers: int = 1) -> Served:
    """``spine-auc serve --port <free>`` with ``env`` over a clean ``SPINE_AUC_*`` environment."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_AUC_")}
    clean.setdefault("SPINE_AUC_DATA_DIR", str(tmp_path / "data"))
    clean.update(env)
    stdout, stderr = tmp_path / "serve.out", tmp_path / "serve.err"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            [str(SPINE_AUC), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            cwd=cwd,
            env=clean,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    served = Served(process, f"http://127.0.0.1:{port}", stdout, stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("spine-auc serve exited:\n" + served.logs()[-3000:])
        try:
            if requests.get(served.url + "/healthz", timeout=5).status_code == 200:
                return served
        except requests.RequestException:
            pass  # not listening yet
        time.sleep(0.2)
    served.stop()
    raise AssertionError("spine-auc serve did not answer:\n" + served.logs()[-3000:])
