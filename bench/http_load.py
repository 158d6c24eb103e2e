"""HTTP order-select benchmark: wrk maximum throughput vs hello-JSON, then p50/p99 at ~70 % of the maximum."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.loadgen import constant_rate
from bench.patients import hook_request
from bench.server import HOST, Gunicorn, post_json
from bench.wsgi import HELLO_PATH

ORDER_SELECT_PATH = "/cds-services/spine-auc-order-select"

_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("{body}", "rb"))
wrk.body = f:read("*a")
f:close()
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def ensure_wrk() -> str | None:
    """The wrk binary; installed from Debian (``apt-get install wrk``) when missing and we are root."""
    found = shutil.which("wrk")
    if found or os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, timeout=300).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300)
        subprocess.run(install, env=env, capture_output=True, timeout=300)
    return shutil.which("wrk")


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return round(float(match.group(1)) * _UNITS[match.group(2)], 3)


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/sec, request count, non-2xx count, socket errors and latency percentiles from ``wrk --latency``."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    count = re.search(r"(\d+) requests in ([\d.]+\w+)", output)
    if not rps or not count:
        raise ValueError(f"unreadable wrk output: {output[-500:]!r}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    pcts = {f"p{p}_ms": _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.M)}
    return {
        "requests_per_second": float(rps.group(1)),
        "requests": int(count.group(1)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
        **pcts,
    }


def run_wrk(wrk: str, url: str, body_file: Path, *, seconds: int, connections: int = 8) -> dict[str, Any]:
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError("wrk only targets loopback")
    script = body_file.with_suffix(".lua")
    script.write_text(_LUA.format(body=str(body_file)))
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency", "-s", str(script), url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=True)
    return parse_wrk(done.stdout)


def bench_http(*, seconds: int = 8, load_seconds: float = 10.0, resources: int = 50) -> dict[str, Any]:
    wrk = ensure_wrk()
    if wrk is None:
        return {"skipped": "wrk is not installed (apt-get install wrk) and could not be installed here"}
    hook = hook_request("order-select", resources)
    body = json.dumps(hook, separators=(",", ":")).encode("utf-8")
    tmp = Path(tempfile.mkdtemp(prefix="spine-auc-bench-wrk-"))
    try:
        hello_file, hook_file = tmp / "hello.json", tmp / "order-select.json"
        hello_file.write_bytes(b"{}")
        hook_file.write_bytes(body)
        with Gunicorn() as server:
            status, answer, _ = post_json(server.url(ORDER_SELECT_PATH), hook)
            cards = answer.get("cards") if isinstance(answer, dict) else None
            if status != 200 or not cards:
                raise RuntimeError(f"order-select answered {status}: {str(answer)[:300]}")
            # Warm both routes (imports, first SQLite writes), then measure.
            run_wrk(wrk, server.url(HELLO_PATH), hello_file, seconds=1)
            run_wrk(wrk, server.url(ORDER_SELECT_PATH), hook_file, seconds=1)
            hello = run_wrk(wrk, server.url(HELLO_PATH), hello_file, seconds=seconds)
            order_select = run_wrk(wrk, server.url(ORDER_SELECT_PATH), hook_file, seconds=seconds)
            rate = 0.7 * order_select["requests_per_second"]
            at_70 = constant_rate(HOST, server.port, ORDER_SELECT_PATH, body, rate=rate, duration=load_seconds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = at_70.summary()
    ratio = order_select["requests_per_second"] / hello["requests_per_second"]
    return {
        "resources_in_prefetch": resources,
        "request_bytes": len(body),
        "cards": len(cards),
        "first_card_summary": cards[0].get("summary"),
        "wrk_seconds": seconds,
        "hello_json": hello,
        "order_select": order_select,
        "ratio_order_select_over_hello": round(ratio, 3),
        "at_70_percent": summary,
        "targets": {
            "ratio_at_least_0.40": ratio >= 0.40,
            "p99_at_70_percent_at_most_50ms": summary["p99_ms"] is not None and summary["p99_ms"] <= 50.0,
        },
    }
