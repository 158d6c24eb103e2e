"""``spine-auc fixtures load --fhir-base URL [--dir fhir_fixtures]``: load fixtures into a FHIR server."""

from __future__ import annotations

import json
import os
import sys

import click

from app.errors import InvalidInput
from app.fhir.client import FhirClient
from app.fhir.errors import FhirError
from app.fhir.fixtures import load_fixtures


@click.group()
def fixtures() -> None:
    """Synthetic FHIR fixtures."""


@fixtures.command("load")
@click.option("--fhir-base", required=True, envvar="SPINE_AUC_FHIR_BASE", help="FHIR R4 base URL.")
@click.option(
    "--dir",
    "directory",
    default="fhir_fixtures",
    show_default=True,
    type=click.Path(file_okay=True, dir_okay=True),
    help="Directory (searched recursively) or single file of FHIR JSON.",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per HTTP call.")
@click.option(
    "--bearer-token-env",
    default=None,
    metavar="VAR",
    help="Name of an environment variable holding a bearer token for the server (never a literal token).",
)
def load(fhir_base: str, directory: str, timeout: float, bearer_token_env: str | None) -> None:
    """Load every FHIR file under --dir as transactions (PUT <Type>/<id>: re-loading is idempotent)."""
    token = os.environ.get(bearer_token_env) if bearer_token_env else None
    try:
        client = FhirClient(fhir_base, bearer_token=token, timeout=timeout, deadline=timeout * 2, retries=2)
        client.capabilities()  # fail fast, with one clear line, when the server is not there
        report = load_fixtures(directory, client)
    except FhirError as err:
        click.echo(f"error: FHIR server {fhir_base}: {err.message}", err=True)
        sys.exit(1)
    except InvalidInput as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    except OSError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    for problem in report["rejected"]:
        click.echo(f"warning: rejected by the server: {problem}", err=True)
    click.echo(
        json.dumps(
            {k: v for k, v in report.items() if k != "skipped_files"}
            | {"skipped_files": len(report["skipped_files"])}
        )
    )
