"""FHIR fallback benchmark: order-sign with no prefetch against sekmet-fhir holding the same patient.

Baseline: each single FHIR query the service makes (the same URLs as ``app.fhir.client``:
``Patient/<id>`` and ``<Type>?patient=<id>&_count=100``), timed on its own from this process with a
keep-alive session, as the service's pooled session does. The parallel fetch should cost about one round
trip, so the target is: order-sign latency <= 1.5 x the slowest single query.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from app.fhir.client import FhirClient
from app.fhir.fixtures import load_fixtures
from bench.patients import PATIENT_ID, hook_request, patient_resources
from bench.server import Gunicorn, post_json

ORDER_SIGN_PATH = "/cds-services/spine-auc-order-sign"
SEARCH_TYPES = ("Condition", "MedicationStatement", "MedicationRequest", "Procedure", "Device")


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1000, 2),
        "min_ms": round(ordered[0] * 1000, 2),
    }


def query_urls(base_url: str) -> dict[str, str]:
    urls = {"Patient": f"{base_url}/Patient/{PATIENT_ID}"}
    for rtype in SEARCH_TYPES:
        urls[rtype] = f"{base_url}/{rtype}?patient={PATIENT_ID}&_count=100"
    return urls


def time_single_queries(base_url: str, repeats: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with requests.Session() as session:
        for rtype, url in query_urls(base_url).items():
            samples: list[float] = []
            entries = 0
            for _ in range(repeats + 2):
                t0 = time.perf_counter()
                resp = session.get(url, headers={"Accept": "application/fhir+json"}, timeout=10)
                body = resp.json()
                samples.append(time.perf_counter() - t0)
                if resp.status_code != 200:
                    raise RuntimeError(f"GET {url}: {resp.status_code}")
                entries = len(body.get("entry", [])) if body.get("resourceType") == "Bundle" else 1
            out[rtype] = {"resources": entries, **_stats(samples[2:])}  # first two: warm-up
    return out


def time_parallel_queries(base_url: str, repeats: int) -> dict[str, float]:
    """All six queries at once from six threads (one keep-alive session each): what the server allows."""
    urls = list(query_urls(base_url).values())
    sessions = [requests.Session() for _ in urls]

    def get(pair: tuple[requests.Session, str]) -> None:
        session, url = pair
        resp = session.get(url, headers={"Accept": "application/fhir+json"}, timeout=10)
        resp.json()
        if resp.status_code != 200:
            raise RuntimeError(f"GET {url}: {resp.status_code}")

    samples: list[float] = []
    try:
        with ThreadPoolExecutor(max_workers=len(urls)) as pool:
            for _ in range(repeats + 2):
                t0 = time.perf_counter()
                list(pool.map(get, zip(sessions, urls, strict=True)))
                samples.append(time.perf_counter() - t0)
    finally:
        for session in sessions:
            session.close()
    return _stats(samples[2:])


def bench_fhir_fallback(*, repeats: int = 30, resources: int = 50) -> dict[str, Any]:
    try:
        from tests.integration.fhir_server import FhirServerUnavailable, SekmetServer, ensure_venv
    except ImportError as err:
        return {"skipped": f"tests/integration/fhir_server.py not importable: {err}"}
    try:
        install_seconds = ensure_venv()
        fhir = SekmetServer()
        base_url = fhir.start()
    except FhirServerUnavailable as err:
        return {"skipped": f"sekmet-fhir unavailable: {err}"}
    try:
        with tempfile.TemporaryDirectory(prefix="spine-auc-bench-fhir-") as tmp:
            bundle = {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": r} for r in patient_resources(resources)],
            }
            path = Path(tmp) / "bench-patient.json"
            path.write_text(json.dumps(bundle))
            loaded = load_fixtures(path, FhirClient(base_url))
        if loaded["rejected"] or loaded["resources"] != resources:
            raise RuntimeError(f"loading the benchmark patient into sekmet-fhir failed: {loaded}")
        singles = time_single_queries(base_url, repeats)
        parallel = time_parallel_queries(base_url, repeats)
        slowest_type = max(singles, key=lambda t: singles[t]["median_ms"])
        no_prefetch = hook_request("order-sign", None, fhir_server=base_url)
        with_prefetch = hook_request("order-sign", resources)
        with Gunicorn() as server:
            url = server.url(ORDER_SIGN_PATH)
            status, answer, _ = post_json(url, no_prefetch)
            if status != 200 or not (isinstance(answer, dict) and answer.get("cards")):
                raise RuntimeError(f"order-sign without prefetch answered {status}: {str(answer)[:300]}")
            fallback_samples, prefetch_samples = [], []
            for _ in range(repeats + 2):
                fallback_samples.append(post_json(url, no_prefetch)[2])
                prefetch_samples.append(post_json(url, with_prefetch)[2])
            fallback, prefetched = _stats(fallback_samples[2:]), _stats(prefetch_samples[2:])
        slowest = singles[slowest_type]["median_ms"]
        sum_of_queries = round(sum(v["median_ms"] for v in singles.values()), 2)
        ratio = fallback["median_ms"] / slowest
        fetch_part = fallback["median_ms"] - prefetched["median_ms"]
        return {
            "resources_on_server": resources,
            "sekmet_install_seconds": round(install_seconds, 1),
            "single_queries": singles,
            "slowest_single_query": {"type": slowest_type, "median_ms": slowest},
            "sum_of_single_query_medians_ms": sum_of_queries,
            "parallel_queries": parallel,
            "order_sign_no_prefetch": fallback,
            "order_sign_full_prefetch": prefetched,
            "fetch_share_ms": round(fetch_part, 2),
            "ratio_fallback_over_slowest_query": round(ratio, 2),
            "ratio_fetch_share_over_slowest_query": round(fetch_part / slowest, 2),
            "ratio_fallback_over_parallel_queries": round(fallback["median_ms"] / parallel["median_ms"], 2),
            "cards": len(answer["cards"]),
            "targets": {"fallback_at_most_1.5x_slowest_query": ratio <= 1.5},
        }
    finally:
        fhir.stop()
