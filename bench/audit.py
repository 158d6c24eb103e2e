"""Audit benchmark: orders/s of ``spine-auc audit`` on 1 and 2 local Dask workers over a synthetic export,
against the in-process engine's evaluations/s on the same records measured in the same run.

``AUDIT_BENCH_PATIENTS`` (default 20,000) sets the export's size. The per-worker ratio is the Dask
evaluation phase's orders/s per worker over the in-process evaluations/s (target ≥ 0.8); end-to-end
figures (first pass and cluster start included) are reported beside it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from app.audit.evaluate import patient_groups, record_resources
from app.audit.partition import MEDICATIONS, partition_export
from app.audit.run import run_audit
from app.audit.synth import write_export
from app.clinical.assessment import assess_orders, record_from_resources
from app.criteria.loader import load_criteria
from app.fhir.input import checked_orders

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.8
EXTRAPOLATE_ORDERS = 10_000_000
EXTRAPOLATE_WORKERS = (2, 16, 64, 256)


def in_process_rate(
    export: Path, work: Path, *, partitions: int, sample_partitions: int = 2
) -> dict[str, Any]:
    """Evaluations/s of assess_orders on records already in memory (no I/O, no Dask): the baseline."""
    import sqlite3

    partition_export(export, work, partitions)
    criteria = load_criteria(REPO / "criteria")
    medications = sqlite3.connect(work / MEDICATIONS)
    patients = []
    for index in range(sample_partitions):
        for items in patient_groups(work, index).values():
            orders = [r for _, r in items if r.get("resourceType") == "ServiceRequest"]
            if orders:
                others = record_resources(
                    [r for _, r in items if r.get("resourceType") != "ServiceRequest"], medications
                )
                patients.append((orders, others))
    started = time.perf_counter()
    evaluated = 0
    for orders, others in patients:
        evaluated += len(assess_orders(checked_orders(orders), record_from_resources(others), criteria))
    seconds = time.perf_counter() - started
    return {
        "orders": evaluated,
        "seconds": round(seconds, 2),
        "evaluations_per_second": round(evaluated / seconds, 1),
    }


def bench_audit(patients: int | None = None, workers: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    n = patients or int(os.environ.get("AUDIT_BENCH_PATIENTS", "20000"))
    root = Path(tempfile.mkdtemp(prefix="spine-auc-audit-bench-"))
    try:
        export = root / "export"
        started = time.perf_counter()
        lines = write_export(export, n, seed=2026, fixtures=REPO / "fhir_fixtures")
        synth_seconds = time.perf_counter() - started
        partitions = max(8, n // 1000)
        baseline = in_process_rate(export, root / "baseline", partitions=partitions)
        runs = []
        for w in workers:
            outcome = run_audit(
                str(export),
                str(root / f"out-{w}"),
                criteria_dir=str(REPO / "criteria"),
                workers=w,
                partitions=partitions,
            )
            orders = outcome.summary.get("total", "all")
            eval_rate = orders / outcome.evaluation_seconds
            runs.append(
                {
                    "workers": w,
                    "orders": orders,
                    "seconds_total": round(outcome.seconds, 1),
                    "seconds_evaluating": round(outcome.evaluation_seconds, 1),
                    "orders_per_second_total": round(orders / outcome.seconds, 1),
                    "orders_per_second_evaluating": round(eval_rate, 1),
                    "orders_per_second_per_worker": round(eval_rate / w, 1),
                    "ratio_per_worker_to_in_process": round(
                        eval_rate / w / baseline["evaluations_per_second"], 2
                    ),
                    "peak_worker_rss_mb": outcome.peak_worker_rss_mb,
                }
            )
        per_worker = max(r["orders_per_second_per_worker"] for r in runs)
        extrapolation = {
            str(w): round(EXTRAPOLATE_ORDERS / (per_worker * w) / 3600, 2) for w in EXTRAPOLATE_WORKERS
        }
        return {
            "patients": n,
            "lines": lines,
            "partitions": partitions,
            "synth_seconds": round(synth_seconds, 1),
            "in_process": baseline,
            "runs": runs,
            "target_ratio_per_worker": TARGET_RATIO,
            "cpu_count": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "hours_for_10_million_orders_by_workers": extrapolation,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
