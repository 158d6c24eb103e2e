"""``spine-auc audit EXPORT_DIR --out OUT_DIR``: the audit job with a progress bar; Ctrl-C stops cleanly."""

from __future__ import annotations

import signal
import sys
from typing import Any

import click

from app.config import load_config


class _OrdersPerSecond:
    """A rich column: orders per second over the run so far."""

    def __new__(cls) -> Any:
        from rich.progress import ProgressColumn
        from rich.text import Text

        class Column(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed or 0:,.0f} orders/s", style="progress.data.speed")

        return Column()


@click.command("audit")
@click.argument("export_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--scheduler", default=None, help="A Dask scheduler address (tcp://host:8786); default: local.")
@click.option("--workers", type=int, default=None, help="Local worker processes (default: one per core).")
@click.option("--resume", is_flag=True, help="Skip the partitions an interrupted run already wrote.")
@click.option("--partitions", type=int, default=None, help="Number of patient partitions (default: by size).")
@click.option("--criteria-dir", default=None, help="Criteria directory (default: the bundled criteria/).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def audit(
    export_dir: str,
    out_dir: str,
    scheduler: str | None,
    workers: int | None,
    resume: bool,
    partitions: int | None,
    criteria_dir: str | None,
    quiet: bool,
) -> None:
    """Audit every spine imaging order of a FHIR Bulk Data export: results.ndjson and report.html in --out."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from app.audit.run import run_audit
    from app.criteria.loader import load_criteria
    from app.errors import CriteriaError

    criteria = criteria_dir or str(load_config()["CRITERIA_DIR"])
    try:
        load_criteria(criteria)  # fail before any work when the criteria are invalid
    except CriteriaError as err:
        raise click.ClickException(f"invalid criteria ({len(err.problems)} problems)") from None
    if workers is not None and workers < 1:
        raise click.ClickException("--workers must be 1 or more")
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _OrdersPerSecond(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )
    task: list[Any] = []

    def on_start(manifest: Any) -> None:
        console.print(
            f"{sum(manifest.lines.values())} resources in {manifest.partitions} partitions; "
            f"{manifest.total_orders} orders; {manifest.malformed} malformed line(s)"
        )
        task.append(progress.add_task("orders", total=manifest.total_orders))

    def on_progress(orders: int, _partitions: int) -> None:
        progress.advance(task[0], orders)

    # Ctrl-C asks the job to stop (checked while tasks run and between steps: Dask's own threads must not
    # swallow it); a second Ctrl-C interrupts at once.
    stop_requested: list[bool] = []

    def on_sigint(_signum: int, _frame: Any) -> None:
        if stop_requested:
            raise KeyboardInterrupt
        stop_requested.append(True)
        console.print("stopping: finishing the partitions in flight … (Ctrl-C again to abort now)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with progress:
            if not quiet:
                console.print(f"partitioning {export_dir} by patient …")
            outcome = run_audit(
                export_dir,
                out_dir,
                criteria_dir=criteria,
                scheduler=scheduler,
                workers=workers,
                resume=resume,
                partitions=partitions,
                on_start=on_start,
                on_progress=on_progress,
                should_stop=lambda: bool(stop_requested),
            )
    except KeyboardInterrupt:
        console.print("interrupted: the partitions written so far are kept; rerun with --resume to finish")
        sys.exit(130)
    except FileNotFoundError as err:
        raise click.ClickException(str(err)) from None
    finally:
        signal.signal(signal.SIGINT, previous)
    m = outcome.manifest
    for problem in m.malformed_listed[:20]:
        console.print(f"malformed line {problem}")
    summary = outcome.summary
    click.echo(
        f"{summary.get('total', 'all')} orders ({summary.get('total', 'spine')} spine imaging) in "
        f"{outcome.seconds:.1f} s on {outcome.workers} worker(s); {m.malformed} malformed line(s), "
        f"{len(outcome.invalid_orders)} invalid order(s); {outcome.skipped_partitions} partition(s) resumed\n"
        f"{outcome.results}\n{outcome.report}"
    )
