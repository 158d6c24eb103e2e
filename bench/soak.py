"""``make soak``: a bounded open-loop load at 70 % of a measured maximum against a real ``spine-auc serve``.

    python -m bench.soak                 # 10 minutes (SOAK_MINUTES=3 to shorten), 2 gunicorn workers

1. Start ``spine-auc serve`` (gunicorn, 2 sync workers, a fresh data directory) on 127.0.0.1.
2. Measure the maximum: ``SOAK_PROBE_CLIENTS`` (default 4) callers back to back for 15 s (closed loop,
   so nothing is left queued); the rate of 200 answers is the maximum.
3. Soak: ``SOAK_LOAD`` (default 0.70) of that maximum, open loop (every request's latency counted from
   its scheduled time), every request a distinct 50-resource prefetch (no cache answers), for
   ``SOAK_MINUTES``. Every 15 s: each worker's RSS and the store's size (database + WAL).
4. Report (stdout and ``bench/results/soak-<time>.json``): requests, errors (non-200 or no answer),
   p50/p99, RSS per worker over time (first, last, max; flat when the last third grows < 5 %), store
   bytes per consultation and growth per hour at that rate.
Not part of ``make test``: it takes minutes and uses both cores.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.loadgen import constant_rate
from bench.patients import VARY_TOKEN, hook_request
from bench.serve_cli import Served, rss_kib
from bench.server import HOST, post_json

PATH = "/cds-services/spine-auc-order-select"
RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE_SECONDS = 15.0
PROBE_SECONDS = 15.0


def _store_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("spine-auc.db*") if p.is_file())


def _rows(data_dir: Path) -> int:
    with sqlite3.connect(f"file:{data_dir / 'spine-auc.db'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM consultations").fetchone()[0])


def _sampler(server: Served, samples: list[dict[str, Any]], stop: threading.Event, started: float) -> None:
    while True:
        samples.append(
            {
                "second": round(time.monotonic() - started, 1),
                "rss_kib": {str(pid): rss_kib(pid) for pid in server.worker_pids()},
                "store_bytes": _store_bytes(server.data_dir),
            }
        )
        if stop.wait(SAMPLE_SECONDS):
            return


def _flat(series: list[int]) -> bool:
    """Flat: over the last two thirds, the RSS grows less than 5 % (warm-up is the first third)."""
    tail = series[len(series) // 3 :]
    return len(tail) < 2 or tail[-1] <= tail[0] * 1.05


def closed_loop_maximum(server: Served, body: bytes, *, clients: int, seconds: float) -> tuple[float, int]:
    """Requests per second that ``clients`` back-to-back callers get answered (200) in ``seconds``."""
    counts = [0] * clients
    errors = [0] * clients
    ends = time.monotonic() + seconds

    def caller(index: int) -> None:
        n = index * 10**7
        while time.monotonic() < ends:
            n += 1
            payload = body.replace(VARY_TOKEN.encode(), f"{n:010d}".encode())
            try:
                status, _, _ = post_json(server.url + PATH, payload, timeout=30)
            except OSError:
                status = 0
            if status == 200:
                counts[index] += 1
            else:
                errors[index] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started), sum(errors)


def soak(minutes: float, load: float, clients: int) -> dict[str, Any]:
    body = json.dumps(hook_request("order-select", 50, vary=True)).encode()
    with tempfile.TemporaryDirectory(prefix="spine-auc-soak-") as tmp, Served(Path(tmp) / "data") as server:
        maximum, probe_errors = closed_loop_maximum(server, body, clients=clients, seconds=PROBE_SECONDS)
        time.sleep(2)  # nothing of the probe is still queued when the soak starts
        rate = max(1.0, maximum * load)
        rows_before, bytes_before = _rows(server.data_dir), _store_bytes(server.data_dir)
        samples: list[dict[str, Any]] = []
        stop = threading.Event()
        started = time.monotonic()
        sampler = threading.Thread(target=_sampler, args=(server, samples, stop, started), daemon=True)
        sampler.start()
        result = constant_rate(
            HOST,
            server.port,
            PATH,
            body,
            rate=rate,
            duration=minutes * 60,
            timeout=10,
            vary=(VARY_TOKEN, 10**8),
        )
        stop.set()
        sampler.join()
        elapsed = time.monotonic() - started
        rows_after, bytes_after = _rows(server.data_dir), _store_bytes(server.data_dir)
        worker_series: dict[str, list[int]] = {}
        for sample in samples:
            for pid, kib in sample["rss_kib"].items():
                worker_series.setdefault(pid, []).append(kib)
    summary = result.summary()
    non_200 = sum(n for status, n in result.statuses.items() if status != 200)
    consultations = rows_after - rows_before
    growth = bytes_after - bytes_before
    return {
        "minutes": minutes,
        "maximum_rps": round(maximum, 1),
        "probe_errors": probe_errors,
        "target_rps": round(rate, 1),
        "achieved_rps": summary["achieved_rate"],
        "requests": result.scheduled,
        "completed": result.completed,
        "errors": result.errors + non_200,
        "statuses": summary["statuses"],
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "max_ms": summary["max_ms"],
        "rss_kib": {
            pid: {"first": s[0], "last": s[-1], "max": max(s), "flat": _flat(s)}
            for pid, s in worker_series.items()
        },
        "rss_flat": all(_flat(s) for s in worker_series.values()),
        "consultations_recorded": consultations,
        "store_bytes_per_consultation": round(growth / consultations) if consultations else None,
        "store_growth_mb_per_hour": round(growth / elapsed * 3600 / 1e6, 1),
        "samples": samples,
    }


def main() -> None:
    minutes = float(os.environ.get("SOAK_MINUTES", "10"))
    load = float(os.environ.get("SOAK_LOAD", "0.70"))
    clients = int(os.environ.get("SOAK_PROBE_CLIENTS", "4"))
    report = soak(minutes, load, clients)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    shown = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(shown, indent=2))
    print(f"full report: {out}")
    if report["errors"] or not report["rss_flat"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
