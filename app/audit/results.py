"""Writing results: one file per partition (atomic: a partition file exists only once complete), then
``results.ndjson``, their concatenation in partition order."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def part_path(out: Path, index: int) -> Path:
    return out / "parts" / f"results-{index:05d}.ndjson"


def invalid_path(out: Path, index: int) -> Path:
    return out / "parts" / f"invalid-{index:05d}.txt"


def invalid_orders(out: Path, partitions: int) -> list[str]:
    """Every partition's invalid orders (``file:line: problem``), in partition order."""
    lines: list[str] = []
    for i in range(partitions):
        path = invalid_path(out, i)
        if path.exists():
            lines += [x for x in path.read_text(encoding="utf-8").splitlines() if x]
    return lines


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary sibling, flush to disk, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def done_partitions(out: Path, partitions: int) -> set[int]:
    """Partitions whose results file is already written (``--resume`` skips them)."""
    return {i for i in range(partitions) if part_path(out, i).exists()}


def concatenate(out: Path, partitions: int) -> Path:
    """``results.ndjson``: every partition's rows, in partition order (written atomically)."""
    target = out / "results.ndjson"
    tmp = out / ".results.ndjson.tmp"
    with tmp.open("wb") as sink:
        for i in range(partitions):
            with part_path(out, i).open("rb") as source:
                shutil.copyfileobj(source, sink)
    os.replace(tmp, target)
    return target


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("r", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
