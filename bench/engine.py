"""Engine benchmarks (in-process, no HTTP): evaluations per second, profile, and scale with record size.

Every figure is paired with a baseline measured in the same run on the same payload: ``json.loads`` of the
request bytes (the cheapest thing any handler must do with them).
"""

from __future__ import annotations

import cProfile
import gc
import json
import math
import pstats
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from app.clinical.vocabulary import Status
from app.criteria.loader import load_criteria
from app.criteria.model import Criteria
from app.fhir.input import assess_bundle
from bench.patients import collection_bundle

REPO = Path(__file__).resolve().parent.parent
NOW = None  # orders carry authoredOn (2026-11-01): evaluations are reproducible without a clock


def default_criteria() -> Criteria:
    return load_criteria(str(REPO / "criteria"))


def time_calls(
    fn: Callable[[], object], *, seconds: float, max_calls: int, min_calls: int = 3
) -> dict[str, float]:
    """Call ``fn`` until ``seconds`` have passed or ``max_calls`` were made (at least ``min_calls``).

    Returns calls, total seconds, mean and median microseconds per call. GC is collected before, not
    disabled: allocation is part of the real cost.
    """
    gc.collect()
    samples: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    while len(samples) < max_calls and (len(samples) < min_calls or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    total = sum(samples)
    ordered = sorted(samples)
    return {
        "calls": len(samples),
        "seconds": round(total, 4),
        "mean_us": round(total / len(samples) * 1e6, 2),
        "median_us": round(ordered[len(ordered) // 2] * 1e6, 2),
        "per_second": round(len(samples) / total, 1) if total > 0 else 0.0,
    }


def _payload(n_resources: int) -> bytes:
    return json.dumps(collection_bundle(n_resources), separators=(",", ":")).encode("utf-8")


def _check_result(payload: bytes, criteria: Criteria) -> dict[str, Any]:
    results = assess_bundle(json.loads(payload), criteria, now=NOW)
    if len(results) != 1 or results[0].status not in {Status.RATED, Status.INSUFFICIENT_DATA}:
        raise RuntimeError(f"benchmark patient did not evaluate as expected: {results!r:.300}")
    return results[0].to_json()


def bench_engine(
    criteria: Criteria | None = None, *, n_resources: int = 50, seconds: float = 3.0, max_calls: int = 20_000
) -> dict[str, Any]:
    """Evaluations per second (split + record + facts + engine + result) vs ``json.loads`` of the same bytes."""
    criteria = criteria or default_criteria()
    payload = _payload(n_resources)
    first = _check_result(payload, criteria)
    baseline = time_calls(lambda: json.loads(payload), seconds=seconds / 3, max_calls=max_calls * 20)
    engine = time_calls(
        lambda: assess_bundle(json.loads(payload), criteria, now=NOW), seconds=seconds, max_calls=max_calls
    )
    # The engine figure includes json.loads too, so the ratio reads "evaluating costs N x parsing".
    return {
        "resources": n_resources,
        "payload_bytes": len(payload),
        "status": first["status"],
        "category": first.get("category"),
        "engine": engine,
        "baseline_json_loads": baseline,
        "ratio_engine_over_json_loads": round(engine["mean_us"] / baseline["mean_us"], 1),
        "evaluations_per_second": engine["per_second"],
    }


def _fn_name(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    path = Path(filename)
    try:
        shown = str(path.resolve().relative_to(REPO))
    except ValueError:
        shown = "/".join(path.parts[-2:]) if len(path.parts) > 1 else filename
    return f"{shown}:{line}({name})"


def profile_engine(
    criteria: Criteria | None = None, *, n_resources: int = 50, calls: int = 200, top: int = 10
) -> dict[str, Any]:
    """cProfile ``calls`` evaluations; the top ``top`` functions by cumulative and by own time."""
    criteria = criteria or default_criteria()
    payload = _payload(n_resources)
    _check_result(payload, criteria)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        assess_bundle(json.loads(payload), criteria, now=NOW)
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in raw.values())

    def rows(index: int) -> list[dict[str, Any]]:
        ranked = sorted(raw.items(), key=lambda kv: kv[1][index], reverse=True)[:top]
        return [
            {
                "function": _fn_name(key),
                "calls_per_evaluation": round(nc / calls, 1),
                "own_us_per_evaluation": round(tt / calls * 1e6, 1),
                "cumulative_us_per_evaluation": round(ct / calls * 1e6, 1),
                "cumulative_share": round(ct / total, 3) if total else 0.0,
            }
            for key, (_cc, nc, tt, ct, _callers) in ranked
        ]

    return {
        "resources": n_resources,
        "evaluations": calls,
        "profiled_us_per_evaluation": round(total / calls * 1e6, 1),
        "top_cumulative": rows(3),
        "top_own_time": rows(2),
    }


def _exponents(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Growth between consecutive sizes: exponent k in cost ~ n^k (1.0 = linear)."""
    out = []
    for a, b in zip(rows, rows[1:], strict=False):
        k = math.log(b[key] / a[key]) / math.log(b["resources"] / a["resources"])
        out.append({"from": a["resources"], "to": b["resources"], "exponent": round(k, 2)})
    return out


def bench_scale(
    criteria: Criteria | None = None,
    *,
    sizes: tuple[int, ...] = (10, 100, 1000, 5000),
    seconds_per_size: float = 2.0,
    max_calls: int = 5000,
) -> dict[str, Any]:
    """Engine cost per record size, per resource, and against ``json.loads`` of the same bytes.

    The engine (split, record, facts, decision, result) is timed on the already-parsed document, the
    parse (``json.loads``, the baseline) on its own: CPython's cyclic GC makes parsing a large document
    grow faster than linearly, and that must not be mistaken for the engine (both are reported). The
    verdict is the exponent of the step between the two largest sizes (the fixed per-order cost makes
    small sizes look sub-linear).
    """
    criteria = criteria or default_criteria()
    rows = []
    for n in sizes:
        payload = _payload(n)
        _check_result(payload, criteria)
        document = json.loads(payload)  # assess_bundle does not modify its input
        parse = time_calls(partial(json.loads, payload), seconds=seconds_per_size / 3, max_calls=max_calls)
        engine = time_calls(
            partial(assess_bundle, document, criteria, now=NOW),
            seconds=seconds_per_size,
            max_calls=max_calls,
        )
        rows.append(
            {
                "resources": n,
                "payload_bytes": len(payload),
                "engine_median_us": engine["median_us"],
                "engine_calls": engine["calls"],
                "json_loads_median_us": parse["median_us"],
                "ratio_engine_over_json_loads": round(engine["median_us"] / parse["median_us"], 1),
                "engine_us_per_resource": round(engine["median_us"] / n, 2),
                "json_loads_us_per_resource": round(parse["median_us"] / n, 2),
            }
        )
    growth = _exponents(rows, "engine_median_us")
    parse_growth = _exponents(rows, "json_loads_median_us")
    last_k = growth[-1]["exponent"] if growth else 1.0
    return {
        "sizes": rows,
        "growth": growth,
        "json_loads_growth": parse_growth,
        "largest_step_exponent": last_k,
        "linear_or_better": bool(last_k <= 1.15),
    }
