"""Start and stop the service under gunicorn with the production settings, for the HTTP benchmarks.

Production settings as ``spine-auc serve``: sync workers, one per core (2 here), timeout 30 s, no debug;
access log off (the issue asks for it; the app's JSON log lines still go to a file). Loopback only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
HELLO_PATH = "/bench/hello"  # the baseline route that bench/wsgi.py adds to the app


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_until_answering(
    process: subprocess.Popen[bytes], url: str, *, seconds: float, what: str, tail: Callable[[], str]
) -> None:
    """Return once ``url`` answers 200; raise ``RuntimeError`` (with the log ``tail``) if ``process`` exits
    first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer within {seconds:g} s: {tail()}")


class Gunicorn:
    """``with Gunicorn() as server: server.url(...)``; its audit database lives in a temporary directory."""

    def __init__(self, workers: int = 2, env: dict[str, str] | None = None):
        self.workers = workers
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="spine-auc-bench-"))
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def __enter__(self) -> Gunicorn:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_AUC_")}
        env.update(
            {
                "SPINE_AUC_DATA_DIR": str(self.workdir / "data"),
                "SPINE_AUC_BIND_HOST": HOST,
                "PYTHONPATH": str(REPO),
            }
        )
        env.update(self.extra_env)
        log = (self.workdir / "server.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(self.workers),
                "--worker-class",
                "sync",
                "--bind",
                f"{HOST}:{self.port}",
                "--timeout",
                "30",
                "--log-level",
                "warning",
                "--chdir",
                str(REPO),
                "bench.wsgi:app",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            wait_until_answering(
                self.process, self.url(HELLO_PATH), seconds=60, what="gunicorn", tail=self.log_tail
            )
        except RuntimeError:
            self.__exit__(None, None, None)
            raise
        return self

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = (self.workdir / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def __exit__(self, *exc: object) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def post_json(
    url: str, body: Any, timeout: float = 30.0, *, headers: dict[str, str] | None = None
) -> tuple[int, Any, float]:
    """(status, parsed JSON, seconds) of one POST."""
    data = json.dumps(body).encode("utf-8") if not isinstance(body, bytes) else body
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}, method="POST"
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    elapsed = time.perf_counter() - started
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return status, parsed, elapsed
