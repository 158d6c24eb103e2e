"""The real ``spine-auc serve`` (gunicorn, as deployed) on a free loopback port, for the soak and tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.server import HOST, free_port, wait_until_answering

SPINE_AUC = Path(sys.executable).with_name("spine-auc")
REPO = Path(__file__).resolve().parent.parent


class Served:
    """``with Served(data_dir) as server: server.url + "/healthz"``; stopped with its whole process group.

    ``workers=None``: no ``--workers`` option, so the worker count (and worker class, threads) are exactly
    what ``spine-auc serve`` chooses by default. The checkout's ``app`` is imported (``PYTHONPATH``), not an
    editable install of another checkout.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int | None = 2,
        threads: int | None = None,
        env: dict[str, str] | None = None,
    ):
        self.data_dir = data_dir
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.env = env or {}
        self.log_path = data_dir.parent / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Served:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_AUC_")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        env.update({"SPINE_AUC_DATA_DIR": str(self.data_dir), **self.env})
        command = [str(SPINE_AUC), "serve", "--host", HOST, "--port", str(self.port)]
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        if self.threads is not None:
            command += ["--threads", str(self.threads)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until_answering(
                self.process, self.url + "/healthz", seconds=60, what="spine-auc serve", tail=self.log_tail
            )
        except RuntimeError:
            self.__exit__()
            raise
        return self

    def worker_pids(self) -> list[int]:
        """The gunicorn workers (children of the master)."""
        if self.process is None:
            return []
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        ).stdout
        return [int(pid) for pid in out.split()]

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def __exit__(self, *exc: object) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (Linux ``/proc``), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0
