"""The first pass: no partition splits a patient, every line lands somewhere, malformed lines are counted
with their file and line and never stop the job."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

from app.audit.export import patient_of
from app.audit.partition import partition_export, spill_path
from tests.unit.audit.conftest import Audited


def test_no_partition_splits_a_patient(audited: Audited) -> None:
    work = audited.out / "work"
    seen: dict[str, set[int]] = defaultdict(set)
    lines = 0
    for index in range(audited.outcome.manifest.partitions):
        for text in spill_path(work, index).read_text(encoding="utf-8").splitlines():
            resource = json.loads(text.split("\t", 2)[2])
            seen[patient_of(resource) or "?"].add(index)
            lines += 1
    assert "?" not in seen
    split = {p: parts for p, parts in seen.items() if len(parts) > 1}
    assert split == {}
    assert len(seen) >= 2000
    # Every partition was used, and every line but the Medications (looked up by reference) was spilled.
    assert set().union(*seen.values()) == set(range(audited.outcome.manifest.partitions))
    m = audited.outcome.manifest
    assert lines == sum(n for t, n in m.lines.items() if t != "Medication") - sum(m.unassigned.values())


def test_malformed_lines_are_counted_with_file_and_line(audited: Audited) -> None:
    m = audited.outcome.manifest
    assert m.malformed == len(audited.malformed_at) == 3
    assert [p.split(": ", 1)[0] for p in m.malformed_listed] == sorted(audited.malformed_at)
    report = (audited.out / "report.html").read_text(encoding="utf-8")
    for where in audited.malformed_at:
        assert where in report


def test_gzipped_files_are_read_and_their_bad_lines_located(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    lines = [
        {"resourceType": "Patient", "id": "a"},
        {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/a"}},
    ]
    with gzip.open(export / "Condition.ndjson.gz", "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(lines[1]) + "\n\n{oops\n")
    (export / "Patient.ndjson").write_text(json.dumps(lines[0]) + "\n", encoding="utf-8")
    (export / "Basic.ndjson").write_text('{"resourceType": "Basic", "id": "b"}\n', encoding="utf-8")
    manifest = partition_export(export, tmp_path / "work", 3)
    assert manifest.lines == {"Condition": 1, "Patient": 1}
    assert manifest.malformed_listed == [
        "Condition.ndjson.gz:3: not JSON (Expecting property name enclosed in double quotes at column 2)"
    ]
    assert manifest.ignored == {"Basic": 1}
