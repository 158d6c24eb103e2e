"""Load FHIR fixture files into a FHIR server as transactions (``spine-auc fixtures load``).

Each JSON file that is a FHIR resource becomes one ``transaction`` Bundle:

* a Bundle (collection, transaction, batch, searchset, …) contributes its entries' resources;
* a bare resource contributes itself;
* anything else (CDS Hooks request files, notes) is skipped and reported.

Every resource with an id is sent as ``PUT <Type>/<id>``, so loading twice leaves the server unchanged
(idempotent); a resource without an id is sent as ``POST <Type>`` (not idempotent, reported). References
that point at an entry's ``fullUrl`` (``urn:uuid:…`` or an absolute URL) are rewritten to ``<Type>/<id>``.
If the server rejects a whole transaction with a 4xx (e.g. one deliberately malformed resource), the
file's resources are PUT one by one and the rejected ones are reported; the rest still load.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.fhir.client import FhirClient
from app.fhir.errors import FhirError, FhirHTTPError

_ID_OK = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


@dataclass
class LoadReport:
    files: int = 0
    transactions: int = 0
    resources: Counter[str] = field(default_factory=Counter)
    posted_without_id: int = 0
    skipped_files: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "transactions": self.transactions,
            "resources": sum(self.resources.values()),
            "by_type": dict(sorted(self.resources.items())),
            "posted_without_id": self.posted_without_id,
            "skipped_files": list(self.skipped_files),
            "rejected": list(self.rejected),
        }


def fixture_files(directory: str | Path) -> list[Path]:
    """The ``*.json`` files under ``directory`` (recursively), in a stable order."""
    root = Path(directory)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"no such fixtures directory: {root}")
    return sorted(p for p in root.rglob("*.json") if p.is_file())


def resources_of(document: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """(fullUrl, resource) pairs of a fixture document; empty when it is not a FHIR resource."""
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        return []
    if document["resourceType"] != "Bundle":
        return [(None, document)]
    out: list[tuple[str | None, dict[str, Any]]] = []
    for entry in document.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            full_url = entry.get("fullUrl")
            out.append((full_url if isinstance(full_url, str) else None, resource))
    return out


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64 and set(value) <= _ID_OK


def _rewrite_references(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite_references(v, mapping) for k, v in node.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in mapping:
            out["reference"] = mapping[ref]
        return out
    if isinstance(node, list):
        return [_rewrite_references(v, mapping) for v in node]
    return node


def transaction_for(pairs: list[tuple[str | None, dict[str, Any]]]) -> dict[str, Any]:
    """A transaction Bundle of PUT (with id) / POST (without id) entries, references resolved."""
    mapping = {
        full_url: f"{res['resourceType']}/{res['id']}"
        for full_url, res in pairs
        if full_url and _valid_id(res.get("id"))
    }
    entries: list[dict[str, Any]] = []
    for full_url, resource in pairs:
        rtype = resource["resourceType"]
        body = _rewrite_references(resource, mapping)
        if _valid_id(resource.get("id")):
            entry = {
                "fullUrl": f"{rtype}/{resource['id']}",
                "resource": body,
                "request": {"method": "PUT", "url": f"{rtype}/{resource['id']}"},
            }
        else:
            body.pop("id", None)
            entry = {"resource": body, "request": {"method": "POST", "url": rtype}}
            if full_url and full_url.startswith("urn:uuid:"):
                entry["fullUrl"] = full_url
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _check_response(response: dict[str, Any], sent: dict[str, Any]) -> list[str]:
    """Entries of a transaction-response whose status is not 2xx."""
    problems: list[str] = []
    got = response.get("entry") or []
    for i, entry in enumerate(sent["entry"]):
        status = ""
        if i < len(got) and isinstance(got[i], dict) and isinstance(got[i].get("response"), dict):
            status = str(got[i]["response"].get("status", ""))
        if not status.startswith("2"):
            problems.append(f"{entry['request']['url']}: status {status or 'missing'}")
    return problems


def load_fixtures(directory: str | Path, client: FhirClient) -> dict[str, Any]:
    """Load every FHIR fixture file under ``directory`` into ``client``'s server; returns counts.

    Raises ``FhirError`` when the server cannot be used at all (unreachable, auth, timeout); per-resource
    rejections are collected in ``rejected``.
    """
    report = LoadReport()
    for path in fixture_files(directory):
        report.files += 1
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            report.skipped_files.append(f"{path}: not JSON ({exc})")
            continue
        pairs = resources_of(document)
        if not pairs:
            report.skipped_files.append(f"{path}: not a FHIR resource")
            continue
        bundle = transaction_for(pairs)
        try:
            response = client.transaction(bundle)
        except FhirHTTPError as err:
            if err.status is None or not 400 <= err.status < 500:
                raise
            _load_one_by_one(path, bundle, client, report, err)
            continue
        report.transactions += 1
        problems = _check_response(response, bundle)
        report.rejected.extend(f"{path.name}: {p}" for p in problems)
        for entry in bundle["entry"]:
            report.resources[entry["resource"]["resourceType"]] += 1
            report.posted_without_id += entry["request"]["method"] == "POST"
        report.resources.subtract(p.split("/", 1)[0] for p in problems)
    return report.as_dict()


def _load_one_by_one(
    path: Path, bundle: dict[str, Any], client: FhirClient, report: LoadReport, err: FhirError
) -> None:
    """The server refused the transaction: send its entries one per transaction, keep what it accepts."""
    for entry in bundle["entry"]:
        single = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
        rtype = entry["resource"]["resourceType"]
        try:
            client.transaction(single)
        except FhirHTTPError as one_err:
            if one_err.status is None or not 400 <= one_err.status < 500:
                raise
            report.rejected.append(f"{path.name}: {entry['request']['url']}: {one_err.message}")
            continue
        report.transactions += 1
        report.resources[rtype] += 1
        report.posted_without_id += entry["request"]["method"] == "POST"
