"""One synthetic export and one audit of it on a 2-worker local Dask cluster, shared by the audit tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.audit.run import AuditOutcome, run_audit
from app.audit.synth import write_export

REPO = Path(__file__).resolve().parents[3]
PATIENTS = 2000
SEED = 7
# Appended to the export: a line that is not JSON, one that is not a resource, one truncated.
MALFORMED = {"Condition.ndjson": ["{not json", '["a list"]'], "Procedure.ndjson": ['{"resourceType": "Proc']}


@dataclass
class Audited:
    export: Path
    out: Path
    outcome: AuditOutcome
    malformed_at: list[str]  # "file:line" of every malformed line appended


@pytest.fixture(scope="session")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    export = tmp_path_factory.mktemp("export")
    write_export(export, PATIENTS, seed=SEED, fixtures=REPO / "fhir_fixtures")
    where = []
    for name, lines in MALFORMED.items():
        path = export / name
        count = len(path.read_text(encoding="utf-8").splitlines())
        with path.open("a", encoding="utf-8") as handle:
            for i, line in enumerate(lines, start=1):
                handle.write(line + "\n")
                where.append(f"{name}:{count + i}")
    out = tmp_path_factory.mktemp("audit")
    outcome = run_audit(str(export), str(out), criteria_dir=str(REPO / "criteria"), workers=2, partitions=6)
    yield Audited(export, out, outcome, where)
