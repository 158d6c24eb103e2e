"""``report.html``: one self-contained file (inline CSS and SVG, no script, no network).

Every number is a link to its entry in the list of filters at the end: a one-line ``jq`` command over
``results.ndjson`` that prints that number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from app.audit.sections import STYLE, all_sections
from app.audit.summary import Key, jq_command

if TYPE_CHECKING:
    from app.audit.run import AuditOutcome

WHY_DASK = """
<section id="engine" class="note"><h2>How this was computed</h2>
<p><b>Why Dask.</b> The engine is a pure-Python library: Dask runs it unchanged, in Python worker
processes, from a laptop (a local cluster of one process per core) to a cluster (<code>--scheduler
tcp://host:8786</code>) with the same code, no JVM and no serialisation of the engine into another language.
The export is first spilled to disk by patient (a hash of the patient reference picks one of K partition
files), so a patient's record is never split and a task's memory is one partition, not the export.</p>
<p><b>On Spark or Pathling.</b> A team that already runs Spark would load the NDJSON with Pathling
(<code>pc.read.ndjson(dir)</code>, FHIR-aware encoders), group by patient reference, and call the same
engine from a pandas UDF (<code>groupBy(patient).applyInPandas</code>, one Python worker per executor
core), writing the rows to Parquet or Delta; the report's numbers are then SQL over that table. Pathling's
FHIRPath views also suit the simple counts; the appropriateness rating itself still needs this engine.</p>
</section>
"""


class JqLinks:
    """Numbers → links to numbered ``jq`` filters, collected for the list at the end."""

    def __init__(self) -> None:
        self.filters: dict[tuple[str, Key], tuple[int, str, int]] = {}

    def __call__(self, family: str, key: Key, value: int) -> str:
        entry = self.filters.get((family, key))
        if entry is None:
            entry = (len(self.filters) + 1, jq_command(family, key), value)
            self.filters[(family, key)] = entry
        number, command, _ = entry
        return f'<a class="n" href="#q{number}" title="{escape(command)}" data-jq="{escape(command)}">{value}</a>'

    def listing(self) -> str:
        items = "".join(
            f'<li id="q{n}"><code>{escape(command)}</code> → <b class="expect">{value}</b></li>'
            for n, command, value in sorted(self.filters.values())
        )
        return (
            '<section class="filters" id="filters"><h2>Filters</h2><p>Each number above links here: run the '
            "command in the output directory to reproduce it.</p>"
            f"<ol>{items}</ol></section>"
        )


def _problems(outcome: AuditOutcome) -> str:
    m = outcome.manifest
    listed = "".join(f"<li><code>{escape(p)}</code></li>" for p in m.malformed_listed[:200])
    more = f"<p>… and {m.malformed - 200} more (all in manifest.json)</p>" if m.malformed > 200 else ""
    invalid = "".join(f"<li><code>{escape(p)}</code></li>" for p in outcome.invalid_orders[:200])
    unassigned = ", ".join(f"{t} {n}" for t, n in sorted(m.unassigned.items())) or "none"
    ignored = ", ".join(f"{t} {n}" for t, n in sorted(m.ignored.items())) or "none"
    return (
        '<section id="problems"><h2>Data problems</h2>'
        f"<p>Malformed lines (skipped): <b>{m.malformed}</b></p><ul>{listed}</ul>{more}"
        f"<p>Invalid orders (not valid R4 ServiceRequests; not evaluated, listed in invalid-orders.txt): "
        f"<b>{len(outcome.invalid_orders)}</b></p><ul>{invalid}</ul>"
        f"<p>Resources without a patient reference (not attributable): {escape(unassigned)}. "
        f"Resource types not read: {escape(ignored)}.</p></section>"
    )


def render_report(outcome: AuditOutcome) -> str:
    links = JqLinks()
    body = all_sections(outcome.summary, links)
    m = outcome.manifest
    read = ", ".join(f"{t} {n}" for t, n in sorted(m.lines.items()))
    rate = outcome.summary.get("total", "all") / outcome.seconds if outcome.seconds else 0.0
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>spine-auc audit report</title>'
        f"<style>{STYLE}</style></head><body><h1>Spine imaging appropriateness audit</h1>"
        f"<p>Export <code>{escape(m.export_dir)}</code> — {escape(read)}. {m.partitions} partitions on "
        f"{outcome.workers} worker(s), {outcome.seconds:.1f} s ({rate:.0f} orders/s). Generated "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Rows: <code>results.ndjson</code>; every number links to the "
        "<code>jq</code> filter that reproduces it.</p>"
        f"{body}{_problems(outcome)}{WHY_DASK}{links.listing()}</body></html>"
    )


def write_report(path: Path, outcome: AuditOutcome) -> Path:
    from app.audit.results import write_atomically

    write_atomically(path, render_report(outcome))
    return path
