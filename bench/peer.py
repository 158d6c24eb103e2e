"""The reference service: ``pama-imaging`` of ``cds-hooks/sandbox-cds-services`` (Node/express), built
outside the repository (``PEER_DIR``, see bench/README.md), started as ``node serve-local.js`` on a free
loopback port.

It rates the order alone (CPT + SNOMED reason of the selected ServiceRequest) and reads no patient data and
no JWT. The request is its own test scenario "spine CT for low back pain" (CPT 72133, SNOMED 279039007),
answered with ``extension.systemActions[0]`` carrying a ``pama-rating`` of ``not-appropriate``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from bench.server import HOST, free_port, wait_until_answering

PAMA_PATH = "/cds-services/pama-imaging"
PAMA_RATING = "http://fhir.org/argonaut/Extension/pama-rating"
EXPECTED_RATING = "not-appropriate"
WRAPPER = "serve-local.js"


def pama_request(vary_token: str) -> dict[str, Any]:
    """An order-select for CPT 72133 (CT lumbar spine) for SNOMED 279039007 (low back pain); the patient id
    is ``vary_token`` (its first occurrence in the JSON), for load generators to make bodies distinct."""
    patient = vary_token
    return {
        "hook": "order-select",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {
            "patientId": patient,
            "userId": "Practitioner/bench",
            "selections": ["ServiceRequest/sr-bench-ct"],
            "draftOrders": {
                "resourceType": "Bundle",
                "entry": [
                    {
                        "resource": {
                            "resourceType": "ServiceRequest",
                            "id": "sr-bench-ct",
                            "status": "draft",
                            "intent": "plan",
                            "code": {
                                "coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "72133"}],
                                "text": "Lumbar spine CT",
                            },
                            "subject": {"reference": f"Patient/{patient}"},
                            "reasonCode": [
                                {
                                    "coding": [
                                        {
                                            "system": "http://snomed.info/sct",
                                            "code": "279039007",
                                            "display": "Low back pain",
                                        }
                                    ]
                                }
                            ],
                        }
                    }
                ],
            },
        },
    }


def pama_rating(answer: Any) -> str | None:
    """The ``pama-rating`` code of ``extension.systemActions[0]`` in the reference's answer, if any."""
    try:
        resource = answer["extension"]["systemActions"][0]["resource"]
        for ext in resource.get("extension", []):
            if ext.get("url") == PAMA_RATING:
                return str(ext["valueCodeableConcept"]["coding"][0]["code"])
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return None


def peer_problem(peer_dir: str | None) -> str | None:
    """Why the reference cannot run from ``peer_dir`` (``None``: it can)."""
    if not peer_dir:
        return "PEER_DIR not set"
    root = Path(peer_dir)
    if not (root / WRAPPER).is_file():
        return f"{root / WRAPPER} not found (see bench/README.md: the three-line wrapper)"
    if not (root / "node_modules" / "express").is_dir():
        return f"{root}/node_modules has no express (run npm install --omit=dev there)"
    if shutil.which("node") is None:
        return "node is not installed"
    return None


class PeerService:
    """``with PeerService(peer_dir) as peer: peer.url(PAMA_PATH)``; stopped with its process group."""

    def __init__(self, peer_dir: str) -> None:
        self.root = Path(peer_dir)
        self.port = free_port()
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"spine-auc-bench-peer-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def __enter__(self) -> PeerService:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed")
        env = {"PATH": os.environ.get("PATH", ""), "PORT": str(self.port), "NODE_ENV": "production"}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [node, WRAPPER],
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until_answering(
                self.process, self.url("/cds-services"), seconds=30, what="the reference", tail=self.log_tail
            )
        except RuntimeError:
            self.__exit__()
            raise
        return self

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""

    def __exit__(self, *exc: object) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.log_path.unlink(missing_ok=True)


def node_version() -> str | None:
    node = shutil.which("node")
    if node is None:
        return None
    done = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10, check=False)
    return done.stdout.strip() or None


def body_bytes(vary_token: str) -> bytes:
    return json.dumps(pama_request(vary_token), separators=(",", ":")).encode("utf-8")
