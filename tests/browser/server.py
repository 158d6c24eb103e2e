"""A real spine-auc server on 127.0.0.1 (a child process on a free port) for the browser tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(data_dir: Path, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    child_env = os.environ | {"SPINE_AUC_DATA_DIR": str(data_dir)} | env
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield base
    finally:
        child.terminate()
        child.wait(timeout=20)


def http_post(base: str) -> Any:
    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = requests.post(
            base + path, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=30
        )
        return response.status_code, response.json() if response.content else None

    return post
