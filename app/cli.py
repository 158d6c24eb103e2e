"""The ``spine-auc`` command line: serve, evaluate, criteria check (click)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from app.config import load_config


def _criteria_dir(value: str | None) -> str:
    return value or str(load_config()["CRITERIA_DIR"])


@click.group()
@click.version_option(package_name="spine-auc")
def main() -> None:
    """spine-auc: ACR appropriateness for spine imaging orders (FHIR R4, CDS Hooks 2.0)."""


@main.group()
def criteria() -> None:
    """Clinical content commands."""


@criteria.command("check")
@click.option("--dir", "directory", default=None, help="Criteria directory (default: the bundled criteria/).")
def criteria_check(directory: str | None) -> None:
    """Validate every criteria file and the cross-references; print problems as file:json_path: message."""
    from app.criteria.loader import check_criteria, load_criteria

    path = _criteria_dir(directory)
    problems = check_criteria(path)
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        click.echo(f"criteria check: {len(problems)} problem(s) in {path}", err=True)
        sys.exit(1)
    loaded = load_criteria(path)
    rows = sum(len(v.rows) for t in loaded.topics.values() for v in t.variants)
    click.echo(
        f"criteria {loaded.version}: OK — {len(loaded.topics)} topics, "
        f"{sum(len(t.variants) for t in loaded.topics.values())} variants, {rows} rows, "
        f"{len(loaded.procedures)} procedures, {len(loaded.codes)} codes, {len(loaded.value_sets)} value sets"
    )


_SYSTEM_NAMES = {
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://snomed.info/sct": "SNOMED",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://www.whocc.no/atc": "ATC",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "http://loinc.org": "LOINC",
    "http://www.nlm.nih.gov/research/umls/hcpcs": "HCPCS",
    "urn:oid:2.16.840.1.113883.3.26.1.1": "NCI",
    "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl": "NCI",
}


def _code_list(codes: list[dict[str, str]], total: int) -> str:
    shown = []
    for c in codes:
        system = _SYSTEM_NAMES.get(c["system"], c["system"]) if c["system"] else "name"
        shown.append(f"{system} {c['code']}{'*' if c.get('match') == 'prefix' else ''}")
    more = f", … ({total} in all)" if total > len(codes) else ""
    return ", ".join(dict.fromkeys(shown)) + more


def _fact_table(entries: list[dict[str, Any]]) -> str:
    """fact | kind | rule | value sets | settings, one line per fact."""
    header = ("FACT", "KIND", "RULE", "VALUE SETS", "SETTINGS")
    rows = [header] + [
        (
            e["fact"],
            e["kind"],
            e["rule"],
            ", ".join(dict.fromkeys(vs["id"] for vs in e["valueSets"]))
            or ("(procedures.json)" if e["reads"] else "—"),
            ", ".join(s["name"] for s in e["settings"]) or "—",
        )
        for e in entries
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}  |  {r[4]}" for r in rows
    )


def _fact_listing(entries: list[dict[str, Any]]) -> str:
    """One block per fact: name and rule, then its texts, value sets, settings and other tables."""
    lines: list[str] = []
    for e in entries:
        lines.append(f"{e['fact']}  [{e['kind']} · rule {e['rule']}]")
        rows: list[tuple[str, str]] = []
        if e["text"]:
            rows.append(("text", e["text"]))
        rows.append(("rule", e["ruleText"]))
        if "when" in e:
            rows.append(("when", json.dumps(e["when"], ensure_ascii=False)))
        for vs in e["valueSets"]:
            rows.append(
                (
                    "value set",
                    f"{vs['id']} ({vs['use']} of {vs['source']}): {_code_list(vs['codes'], vs['codeCount'])}",
                )
            )
        for s in e["settings"]:
            rows.append(("setting", f"{s['name']} = {s['value']:g}: {s['text']}"))
        if e["reads"]:
            rows.append(("reads", f"{e['reads']}: {_code_list(e['codes'], e['codeCount'])}"))
        lines += [f"  {label:<10} {value}" for label, value in rows]
        lines.append("")
    return "\n".join(lines).rstrip("\n")


@criteria.command("facts")
@click.option("--dir", "directory", default=None, help="Criteria directory (default: the bundled criteria/).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def criteria_facts(directory: str | None, fmt: str) -> None:
    """List every fact: the rule that computes it, its value sets, thresholds and texts (for clinical review)."""
    from app.clinical.fact_catalogue import fact_catalogue
    from app.criteria.loader import load_criteria
    from app.errors import CriteriaError

    try:
        loaded = load_criteria(_criteria_dir(directory))
    except CriteriaError as err:
        raise click.ClickException(
            f"invalid criteria ({len(err.problems)} problems); run 'spine-auc criteria check'"
        ) from None
    entries = fact_catalogue(loaded)
    if fmt == "json":
        click.echo(
            json.dumps({"criteriaVersion": loaded.version, "facts": entries}, indent=2, ensure_ascii=False)
        )
    else:
        click.echo(f"criteria {loaded.version}: {len(entries)} facts\n")
        click.echo(_fact_table(entries))
        click.echo("")
        click.echo(_fact_listing(entries))


def _read_json_file(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(f"{what} {path}: file not found") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{what} {path}: not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise click.ClickException(f"{what} {path}: not valid JSON (line {err.lineno}: {err.msg})") from None
    except OSError as err:
        raise click.ClickException(f"{what} {path}: {err.strerror}") from None


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--patient-bundle", type=click.Path(dir_okay=False), help="Patient resources for a bare ServiceRequest."
)
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True)
@click.option("--now", default=None, help="Request time (ISO 8601) used when an order has no authoredOn.")
@click.option("--criteria-dir", default=None, help="Criteria directory (default: the bundled criteria/).")
def evaluate(
    file: str, patient_bundle: str | None, fmt: str, now: str | None, criteria_dir: str | None
) -> None:
    """Evaluate the ServiceRequest(s) in FILE (a Bundle, or a bare ServiceRequest with --patient-bundle)."""
    from app.clinical.assessment import assess_orders, record_from_resources
    from app.clinical.result import format_text
    from app.criteria.loader import load_criteria
    from app.errors import CriteriaError, InvalidInput
    from app.fhir.input import checked_orders, split_input

    try:
        loaded = load_criteria(_criteria_dir(criteria_dir))
    except CriteriaError as err:
        raise click.ClickException(
            f"invalid criteria ({len(err.problems)} problems); run 'spine-auc criteria check'"
        ) from None
    request_time = None
    if now:
        try:
            request_time = datetime.fromisoformat(now)
        except ValueError:
            raise click.ClickException(f"--now {now!r} is not an ISO 8601 date-time") from None
    try:
        orders, others = split_input(_read_json_file(file, "input"))
        if patient_bundle:
            extra = _read_json_file(patient_bundle, "patient bundle")
            if not isinstance(extra, dict) or extra.get("resourceType") != "Bundle":
                raise InvalidInput("--patient-bundle must be a FHIR Bundle")
            others += [
                e["resource"] for e in extra.get("entry", []) if isinstance(e, dict) and "resource" in e
            ]
        results = assess_orders(
            checked_orders(orders), record_from_resources(others), loaded, now=request_time
        )
    except InvalidInput as err:
        raise click.ClickException(f"unreadable input: {err.message}") from None
    if fmt == "text":
        click.echo(format_text(results))
    else:
        click.echo(json.dumps({"results": [r.to_json() for r in results]}, indent=2, ensure_ascii=False))


@main.group()
def store() -> None:
    """Consultation audit store commands."""


@store.command("purge")
@click.option(
    "--days", type=int, default=None, help="Keep this many days (default: SPINE_AUC_RETENTION_DAYS)."
)
def store_purge(days: int | None) -> None:
    """Delete consultations and feedback older than the retention period (run it daily from cron)."""
    from pathlib import Path

    from app.store.consultations import ConsultationStore
    from app.store.questions import QuestionStore

    config = load_config()
    keep = int(config["RETENTION_DAYS"] if days is None else days)
    if keep < 0:
        raise click.ClickException("--days must be 0 or more")
    Path(config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    consultations = ConsultationStore.from_url(config["DATABASE_URL"])
    try:
        deleted = consultations.purge_older_than(keep)
        questions = QuestionStore(consultations.engine)
        asked = questions.purge_older_than(keep)
        expired = questions.purge_expired()  # the record kept to re-rate an unanswered question is not kept
    finally:
        consultations.close()
    click.echo(
        f"purged {deleted} consultation(s) and {asked} question(s) older than {keep} days; "
        f"dropped the record of {expired} expired question(s)"
    )


def _fresh_private_dir(path: Path) -> Path:
    """An empty directory of mode 0700 (its parent, the data directory, 0700 too); standard library only."""
    import shutil

    for directory in (path.parent, path):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory.chmod(0o700)
    for child in path.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    return path


GUNICORN_LIMIT_REQUEST_LINE = 8190  # gunicorn's maximum; the app refuses above MAX_URL_BYTES itself
GUNICORN_LIMIT_REQUEST_FIELD_SIZE = 16380  # the app refuses a header above MAX_HEADER_BYTES itself
# Request threads per worker. More than one selects gunicorn's gthread worker: while a request waits for its
# audit commit's fsync the process runs another, and concurrent requests share one commit (group commit,
# app/store/group_commit.py). Measured on 2 cores (issue #15, CHANGELOG): the handler is CPU-bound (~8 ms of
# CPU, fsync ~0.5-2 ms) and its threads share the GIL: no throughput gain beyond the noise, a longer p99 (~181
# vs ~114 ms closed-loop with 2x2). Sync workers stay the default; 2 threads was the best count measured.
GUNICORN_THREADS = 1


def gunicorn_worker_class(threads: int) -> str:
    return "gthread" if threads > 1 else "sync"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option(
    "--threads",
    default=GUNICORN_THREADS,
    show_default=True,
    type=int,
    help="request threads per worker (more than 1: gthread workers, group commit)",
)
@click.option(
    "--allow-unauthenticated", is_flag=True, help="Accept CDS calls without a JWT on a non-loopback bind."
)
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn.")
def serve(host: str, port: int, workers: int, threads: int, allow_unauthenticated: bool, dev: bool) -> None:
    """Serve the API, the FHIR operation and CDS Hooks (gunicorn; sync workers, or gthread with --threads)."""
    import gc
    import logging
    import os

    # Metrics of every worker go to a private directory under the data directory; the variable must be
    # set before prometheus_client is first imported (app.metrics), so it comes first.
    metrics_dir = _fresh_private_dir(Path(load_config()["DATA_DIR"]) / "metrics")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    from app import create_app
    from app.metrics import mark_worker_dead

    overrides: dict[str, Any] = {"BIND_HOST": host}
    if allow_unauthenticated:
        overrides["ALLOW_UNAUTHENTICATED"] = True
        os.environ["SPINE_AUC_ALLOW_UNAUTHENTICATED"] = "1"
    os.environ["SPINE_AUC_BIND_HOST"] = host
    from app.logging_setup import configure_logging
    from app.security.api_auth import api_startup_warnings
    from app.security.cds_auth import check_startup_security

    configure_logging()
    log = logging.getLogger("spine_auc.cli")
    try:
        config = load_config(overrides)
        for warning in check_startup_security(config, host) + api_startup_warnings(config, host):
            log.warning(warning)
    except RuntimeError as err:
        raise click.ClickException(str(err)) from None
    app = create_app(overrides)  # validates the criteria before binding
    # The criteria and app are long-lived: keep them out of the garbage collector's full passes (p99 stalls).
    gc.collect()
    gc.freeze()
    log.info("serving on %s:%s with criteria %s", host, port, app.extensions["spine_auc.criteria"].version)
    if dev:
        app.run(host=host, port=port)
        return
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", gunicorn_worker_class(threads))
            self.cfg.set("threads", threads)
            self.cfg.set("timeout", 30)
            self.cfg.set("accesslog", "-")
            # Our own limits answer first, as OperationOutcomes (app/web/request_limits.py): gunicorn's
            # are set above them (its maximum request line is 8190) and only answer beyond.
            self.cfg.set("limit_request_line", GUNICORN_LIMIT_REQUEST_LINE)
            self.cfg.set("limit_request_field_size", GUNICORN_LIMIT_REQUEST_FIELD_SIZE)
            self.cfg.set("child_exit", lambda _server, worker: mark_worker_dead(worker.pid))
            self.cfg.set("errorlog", "-")
            # JSON lines, query strings and credentials redacted (app/logging_setup.py).
            self.cfg.set("logger_class", "app.logging_setup.GunicornJsonLogger")
            # The app (and its database engine) is built before the fork: each worker opens its own connections.
            self.cfg.set(
                "post_fork",
                lambda _server, _worker: app.extensions["spine_auc.store"].engine.dispose(close=False),
            )

        def load(self) -> Any:
            return app

    _Gunicorn().run()


from app.cli_fixtures import fixtures  # noqa: E402  (the `fixtures` group lives in its own module)

main.add_command(fixtures)

from app.audit.cli import audit  # noqa: E402  (the audit command lives in its own package)

main.add_command(audit)


if __name__ == "__main__":  # pragma: no cover
    main()
