"""The audit job: partition the export (first pass), evaluate the partitions on Dask, summarise, report.

Dask: ``dask.bag`` over the partition indices (one task per partition), computed on a
``dask.distributed`` client — a ``LocalCluster`` of one single-threaded process per core by default (the
engine is pure Python: processes, not threads), or the scheduler given by ``--scheduler``. A worker on
another machine must see ``OUT_DIR`` (shared storage) and have spine-auc installed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.audit.evaluate import evaluate_partition, warm_worker
from app.audit.partition import Manifest, choose_partitions, input_signature, partition_export
from app.audit.results import concatenate, done_partitions, invalid_orders, part_path
from app.audit.summary import Summary, summarise_file

POLL_SECONDS = 0.5  # how often the driver looks for a stop request while tasks run
ProgressFn = Callable[[int, int], None]  # (orders done in this step, partitions done in this step)


@dataclass
class AuditOutcome:
    manifest: Manifest
    summary: Summary
    invalid_orders: list[str] = field(default_factory=list)
    skipped_partitions: int = 0
    seconds: float = 0.0
    evaluation_seconds: float = 0.0  # the Dask phase alone (no first pass, no cluster start)
    peak_worker_rss_mb: float = 0.0  # the largest resident set of a worker process after a task
    workers: int = 0
    results: Path | None = None
    report: Path | None = None


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A distributed client: on the given scheduler, or on a LocalCluster of ``workers`` processes."""
    import logging

    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def prepare(
    export_dir: str, out: Path, workers: int, *, resume: bool, partitions: int | None = None
) -> Manifest:
    """The manifest of a finished first pass over this same export (``--resume``), or a new pass."""
    work = out / "work"
    if resume:
        previous = Manifest.load(work)
        if previous is not None and previous.inputs == input_signature(export_dir):
            return previous
    work.mkdir(parents=True, exist_ok=True)
    for stale in (out / "parts").glob("results-*.ndjson") if (out / "parts").exists() else ():
        stale.unlink()  # a new first pass makes earlier partition results meaningless
    return partition_export(export_dir, work, partitions or choose_partitions(export_dir, workers))


def evaluate_all(
    client: Any,
    manifest: Manifest,
    out: Path,
    criteria_dir: str,
    *,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[int, float]:
    """Evaluate every partition not written yet; returns the partitions skipped (``--resume``) and the peak
    resident memory of a worker (MB)."""
    import dask.bag as db
    from distributed import wait

    todo = [i for i in range(manifest.partitions) if i not in done_partitions(out, manifest.partitions)]
    skipped = manifest.partitions - len(todo)
    if on_progress is not None and skipped:
        on_progress(sum(manifest.orders[i] for i in range(manifest.partitions) if i not in todo), skipped)
    peak = 0.0
    if not todo:
        return skipped, peak
    work = str(out / "work")
    bag = db.from_sequence(todo, npartitions=len(todo)).map(
        lambda i: evaluate_partition(work, i, str(out), criteria_dir)
    )
    futures = client.compute(bag.to_delayed())
    pending = set(futures)
    try:
        while pending:
            if should_stop is not None and should_stop():
                raise KeyboardInterrupt
            try:
                finished, pending = wait(pending, timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
            except TimeoutError:
                continue
            for future in finished:
                for done in future.result():
                    peak = max(peak, done["peak_rss_mb"])
                    if on_progress is not None:
                        on_progress(done["orders"], 1)
    except BaseException:
        client.cancel(futures)
        raise
    return skipped, peak


def summarise(client: Any, out: Path, partitions: int) -> Summary:
    """One Summary over every partition's results (a task per partition file)."""
    summary = Summary()
    paths = [str(part_path(out, i)) for i in range(partitions)]
    for data in client.gather(client.map(summarise_file, paths, pure=False)):
        summary.merge(Summary.from_json(data))
    return summary


def run_audit(
    export_dir: str,
    out_dir: str,
    *,
    criteria_dir: str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    partitions: int | None = None,
    on_start: Callable[[Manifest], None] | None = None,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> AuditOutcome:
    """The whole job. Interrupting it (KeyboardInterrupt, or ``should_stop()`` turning true) leaves only
    complete partition files behind."""
    from app.audit.report import write_report

    started = time.perf_counter()
    if criteria_dir is None:
        from app.config import load_config

        criteria_dir = str(load_config()["CRITERIA_DIR"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_workers = workers or os.cpu_count() or 1
    manifest = prepare(export_dir, out, n_workers, resume=resume, partitions=partitions)
    if on_start is not None:
        on_start(manifest)

    def check() -> None:
        if should_stop is not None and should_stop():
            raise KeyboardInterrupt

    check()
    with dask_client(scheduler, n_workers) as client:
        check()
        client.wait_for_workers(1 if scheduler else n_workers)
        if scheduler:
            n_workers = len(client.scheduler_info()["workers"])
        # Every worker loads (and validates) the criteria once, before the clock starts.
        client.run(warm_worker, criteria_dir)
        evaluating = time.perf_counter()
        skipped, peak = evaluate_all(
            client, manifest, out, criteria_dir, on_progress=on_progress, should_stop=should_stop
        )
        evaluation_seconds = time.perf_counter() - evaluating
        summary = summarise(client, out, manifest.partitions)
    invalid = invalid_orders(out, manifest.partitions)
    outcome = AuditOutcome(manifest, summary, invalid, skipped, workers=n_workers)
    outcome.evaluation_seconds, outcome.peak_worker_rss_mb = evaluation_seconds, peak
    outcome.results = concatenate(out, manifest.partitions)
    invalid_path = out / "invalid-orders.txt"
    invalid_path.write_text("".join(line + "\n" for line in invalid), encoding="utf-8")
    outcome.seconds = time.perf_counter() - started
    (out / "summary.json").write_text(json.dumps(summary.to_json()), encoding="utf-8")
    outcome.report = write_report(out / "report.html", outcome)
    return outcome
