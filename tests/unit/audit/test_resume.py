"""Ctrl-C keeps only complete partition files; ``--resume`` skips them and finishes with the same rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.audit.results import part_path
from app.audit.run import run_audit
from tests.unit.audit.conftest import REPO, Audited


def _rows(path: Path) -> dict[str, dict]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[row["serviceRequest"]] = {
            k: v for k, v in row.items() if k not in ("consultationId", "latencyMs")
        }
    return rows


def test_interrupted_run_resumes_from_written_partitions(audited: Audited, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(audited.out, out)
    (out / "results.ndjson").unlink()
    removed = [1, 3, 4]
    for index in removed:
        part_path(out, index).unlink()

    def interrupt(_orders: int, partitions: int) -> None:
        if partitions == 1:  # the first partition evaluated in this run (the skipped ones come as one call)
            raise KeyboardInterrupt

    kwargs = {"criteria_dir": str(REPO / "criteria"), "workers": 2, "resume": True}
    with pytest.raises(KeyboardInterrupt):
        run_audit(str(audited.export), str(out), on_progress=interrupt, **kwargs)
    # Tasks already running when Ctrl-C came may still finish; whatever exists is a complete partition.
    assert not list((out / "parts").glob("results-*.tmp"))
    for index in removed:
        if part_path(out, index).exists():
            complete = _rows(part_path(out, index))
            original = _rows(part_path(audited.out, index))
            assert complete == original

    outcome = run_audit(str(audited.export), str(out), **kwargs)
    assert outcome.skipped_partitions >= audited.outcome.manifest.partitions - len(removed)
    assert _rows(out / "results.ndjson") == _rows(audited.out / "results.ndjson")
