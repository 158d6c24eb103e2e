"""Start a real FHIR R4 server (``sekmet-fhir``, in its own venv) for the integration tests.

The server runs as a subprocess bound to 127.0.0.1 on a free port, with its SQLite database in a temporary
directory, the workflow simulator off and traffic logging off (shared/reference/fhir-servers-and-data.md §2).
Nothing here imports the service; the tests stay server-agnostic through the base URL.
"""

from __future__ import annotations

import fcntl
import hashlib
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
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEKMET_VERSION = "0.1.1"
VENV_DIR = Path(os.environ.get("SPINE_AUC_SEKMET_VENV") or REPO / ".venv-sekmet")


class FhirServerUnavailable(RuntimeError):
    """The test FHIR server could not be installed or started."""


def _venv_bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if sys.platform == "win32" else "bin") / name


def ensure_venv(venv: Path = VENV_DIR) -> float:
    """Create the venv with ``sekmet-fhir`` if missing. Returns the seconds spent (0.0 when it existed).

    A marker file is written last, so a half-built venv (interrupted install) is rebuilt. A lock file
    serialises concurrent pytest sessions that share the repository.
    """
    marker = venv / ".sekmet-installed"
    venv.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(str(venv.resolve()).encode()).hexdigest()[:16]
    with (Path(tempfile.gettempdir()) / f"spine-auc-sekmet-venv-{digest}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if marker.exists() and _venv_bin(venv, "sekmet").exists():
                return 0.0
            started = time.monotonic()
            shutil.rmtree(venv, ignore_errors=True)
            try:
                subprocess.run(
                    [sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120
                )
                subprocess.run(
                    [
                        str(_venv_bin(venv, "python")),
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        f"sekmet-fhir=={SEKMET_VERSION}",
                    ],
                    check=True,
                    capture_output=True,
                    timeout=600,
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
                shutil.rmtree(venv, ignore_errors=True)
                detail = getattr(exc, "stderr", None) or b""
                tail = detail.decode("utf-8", "replace").strip().splitlines()[-3:]
                raise FhirServerUnavailable(
                    f"could not install sekmet-fhir=={SEKMET_VERSION} into {venv}: {exc} {' | '.join(tail)}"
                ) from exc
            marker.write_text(SEKMET_VERSION + "\n")
            return time.monotonic() - started
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SekmetServer:
    """A running sekmet-fhir subprocess; ``base_url`` ends in ``/fhir`` (no trailing slash)."""

    venv: Path = VENV_DIR
    port: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="spine-auc-sekmet-")))
    process: subprocess.Popen[bytes] | None = None
    start_seconds: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def start(self, timeout: float = 60.0) -> str:
        self.port = self.port or free_port()
        config = {
            "base_url": self.base_url,
            "host": "127.0.0.1",
            "port": self.port,
            "data_dir": str(self.workdir / "data"),
            "log_inbound": False,
            "simulator": {"enabled": False},
            "own_private_key_path": str(self.workdir / "keys" / "sekmet_private.pem"),
        }
        config_path = self.workdir / "settings.yaml"
        config_path.write_text(json.dumps(config, indent=2))  # JSON is valid YAML
        log = (self.workdir / "server.log").open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEKMET_")}
        env["SEKMET_CONFIG"] = str(config_path)
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(_venv_bin(self.venv, "sekmet")), "serve", "--config", str(config_path)],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        log.close()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise FhirServerUnavailable(
                    f"sekmet-fhir exited with {self.process.returncode}: {self._log_tail()}"
                )
            if _metadata_ok(self.base_url):
                self.start_seconds = time.monotonic() - started
                return self.base_url
            time.sleep(0.1)
        self.stop()
        raise FhirServerUnavailable(
            f"sekmet-fhir did not answer /metadata within {timeout:.0f} s: {self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            lines = (self.workdir / "server.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-5:])

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _die_with_parent() -> None:
    """Linux: have the kernel send SIGTERM to the server if pytest dies without tearing down."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, int(signal.SIGTERM))


def _metadata_ok(base_url: str) -> bool:
    req = urllib.request.Request(base_url + "/metadata", headers={"Accept": "application/fhir+json"})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return bool(
                resp.status == 200 and json.loads(resp.read()).get("resourceType") == "CapabilityStatement"
            )
    except (urllib.error.URLError, OSError, ValueError):
        return False
