"""The first, streaming pass: every line of the export goes to the spill file of its patient's partition.

A patient's partition is ``crc32(patient id) mod K``, so a patient's resources always land in one partition
whichever file they come from (no partition splits a patient). Memory holds one line and K open files; the
spill files on disk are what the second pass (one Dask task per partition) reads. Medications are not in
any patient's compartment: they go to a small key-value store (SQLite) the tasks look references up in.
The manifest is written last (atomically): a pass that did not finish is redone by ``--resume``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.audit.export import EXPORT_TYPES, export_files, patient_of, read_lines

BYTES_PER_PARTITION = 4 * 1024 * 1024  # the target size of one spill file (a task's input)
GZIP_RATIO = 6  # the size of an NDJSON file once uncompressed, per byte of its .gz, for sizing only
MAX_PROBLEMS_LISTED = 1000  # malformed lines kept with their position (all are counted)
MANIFEST = "manifest.json"
MEDICATIONS = "medications.sqlite"


@dataclass
class Manifest:
    """What the first pass found, and where the partitions are."""

    export_dir: str
    inputs: dict[str, list[int]]  # file name → [size, mtime_ns]: a changed export is partitioned again
    partitions: int
    orders: list[int]  # ServiceRequests per partition
    lines: dict[str, int] = field(default_factory=dict)  # resources read per type
    malformed: int = 0
    malformed_listed: list[str] = field(default_factory=list)  # "file:line: problem"
    unassigned: dict[str, int] = field(default_factory=dict)  # per type: no patient reference
    ignored: dict[str, int] = field(default_factory=dict)  # per type: not a type the audit reads

    def save(self, work: Path) -> None:
        tmp = work / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        os.replace(tmp, work / MANIFEST)

    @classmethod
    def load(cls, work: Path) -> Manifest | None:
        path = work / MANIFEST
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    @property
    def total_orders(self) -> int:
        return sum(self.orders)


def partition_of(patient_id: str, partitions: int) -> int:
    return zlib.crc32(patient_id.encode("utf-8")) % partitions


def spill_path(work: Path, index: int) -> Path:
    return work / "partitions" / f"part-{index:05d}.tsv"


def input_signature(export_dir: str | Path) -> dict[str, list[int]]:
    return {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in export_files(export_dir)}


def choose_partitions(export_dir: str | Path, workers: int) -> int:
    """Enough partitions to keep every worker busy and each spill file near BYTES_PER_PARTITION."""
    size = sum(
        p.stat().st_size * (GZIP_RATIO if p.name.endswith(".gz") else 1) for p in export_files(export_dir)
    )
    return max(2 * workers, -(-size // BYTES_PER_PARTITION))


def partition_export(
    export_dir: str | Path,
    work: Path,
    partitions: int,
    *,
    on_file: Callable[[str, int], None] | None = None,
) -> Manifest:
    """Spill every line to its partition: ``<file index>\\t<line>\\t<json>``; Medications to SQLite."""
    files = export_files(export_dir)
    (work / "partitions").mkdir(parents=True, exist_ok=True)
    manifest = Manifest(str(export_dir), input_signature(export_dir), partitions, [0] * partitions)
    (work / "files.json").write_text(json.dumps([p.name for p in files]), encoding="utf-8")
    db_path = work / MEDICATIONS
    db_path.unlink(missing_ok=True)
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE medication (id TEXT PRIMARY KEY, json TEXT NOT NULL)")
    spills = [spill_path(work, i).open("w", encoding="utf-8") for i in range(partitions)]
    readable = set(EXPORT_TYPES)
    try:
        for file_index, path in enumerate(files):
            count = 0
            for line in read_lines(path):
                count += 1
                if line.resource is None:
                    manifest.malformed += 1
                    if len(manifest.malformed_listed) < MAX_PROBLEMS_LISTED:
                        manifest.malformed_listed.append(f"{line.where}: {line.problem}")
                    continue
                rtype = line.resource["resourceType"]
                if rtype not in readable:
                    manifest.ignored[rtype] = manifest.ignored.get(rtype, 0) + 1
                    continue
                manifest.lines[rtype] = manifest.lines.get(rtype, 0) + 1
                if rtype == "Medication":
                    rid = line.resource.get("id")
                    if isinstance(rid, str):
                        db.execute("INSERT OR REPLACE INTO medication VALUES (?, ?)", (rid, line.raw))
                    continue
                patient = patient_of(line.resource)
                if patient is None:
                    manifest.unassigned[rtype] = manifest.unassigned.get(rtype, 0) + 1
                    continue
                index = partition_of(patient, partitions)
                spills[index].write(f"{file_index}\t{line.number}\t{line.raw}\n")
                if rtype == "ServiceRequest":
                    manifest.orders[index] += 1
            if on_file is not None:
                on_file(path.name, count)
        db.commit()
    finally:
        for handle in spills:
            handle.close()
        db.close()
    manifest.save(work)
    return manifest
