"""``python -m bench`` (``make bench``): every benchmark, its figures and its ratio against a baseline
measured in the same run, then one JSON file of results under ``bench/results/``.

    python -m bench                      # all four (about 3-4 minutes on 2 cores)
    python -m bench --only engine,scale  # a subset: engine, profile, scale, http, fhir
    python -m bench --quick              # small sizes and short runs (a smoke run, ~1 minute)
    PEER_DIR=/path/to/sandbox-cds-services python -m bench --only http   # with the reference service
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import engine as engine_bench

REPO = Path(__file__).resolve().parent.parent
ALL = ("engine", "profile", "scale", "http", "fhir", "audit")


def _print_engine(r: dict[str, Any]) -> None:
    e, b = r["engine"], r["baseline_json_loads"]
    print(
        f"  {r['resources']} resources ({r['payload_bytes']} bytes), result {r['status']}/{r['category']}\n"
        f"  engine      {e['per_second']:>9.1f} evaluations/s   median {e['median_us']:>9.1f} us  ({e['calls']} calls)\n"
        f"  json.loads  {b['per_second']:>9.1f} loads/s         median {b['median_us']:>9.1f} us\n"
        f"  ratio: one evaluation costs {r['ratio_engine_over_json_loads']} x json.loads of the same payload"
    )


def _print_profile(r: dict[str, Any]) -> None:
    print(
        f"  {r['evaluations']} evaluations of {r['resources']} resources under cProfile; top 10 cumulative:"
    )
    for row in r["top_cumulative"]:
        print(
            f"    {row['cumulative_us_per_evaluation']:>9.1f} us  {row['cumulative_share']:>6.1%}  "
            f"{row['calls_per_evaluation']:>7.1f} calls  {row['function']}"
        )
    print("  top 5 by own time:")
    for row in r["top_own_time"][:5]:
        print(
            f"    {row['own_us_per_evaluation']:>9.1f} us  {row['calls_per_evaluation']:>7.1f} calls  {row['function']}"
        )


def _print_scale(r: dict[str, Any]) -> None:
    print("  resources   engine median   per resource   json.loads (per resource)   engine/json.loads")
    for row in r["sizes"]:
        print(
            f"  {row['resources']:>9}   {row['engine_median_us'] / 1000:>10.2f} ms   "
            f"{row['engine_us_per_resource']:>8.2f} us   {row['json_loads_median_us'] / 1000:>8.2f} ms "
            f"({row['json_loads_us_per_resource']:>6.2f} us)      {row['ratio_engine_over_json_loads']:>8.1f} x"
        )
    steps = ", ".join(f"{g['from']}->{g['to']}: n^{g['exponent']}" for g in r["growth"])
    parse = ", ".join(f"{g['from']}->{g['to']}: n^{g['exponent']}" for g in r["json_loads_growth"])
    print(f"  engine growth {steps}; linear or better: {r['linear_or_better']}")
    print(f"  json.loads growth (baseline) {parse}")


def _print_http(r: dict[str, Any]) -> None:
    srv, tok, ref, med = r["server"], r["jwt"], r["reference"], r["median_rps"]
    print(
        f"  ours: {srv['command']} (gunicorn worker class {srv['worker_class']}, {srv['workers']} workers, "
        f"OS threads per worker after the runs {srv['os_threads_per_worker']}), "
        f"JWT verification on ({tok['algorithm']}, {tok['issuer_key_set']}; without a JWT: {tok['without_jwt_status']})\n"
        f"  order-select, {r['resources_in_prefetch']}-resource prefetch ({r['request_bytes']} bytes): every body "
        f"distinct, every request its own token\n"
        f"  signing {tok['algorithm']} (PyJWT): {tok['signing']['tokens_per_second']:.0f} tokens/s per process "
        f"({tok['signing']['us_per_token']} us each); {tok['tokens_signed']} signed in {tok['signing_seconds']} s "
        f"on {tok['signing_processes']} processes, between runs (not timed)"
    )
    if ref["given"]:
        print(
            f"  reference: pama-imaging, sandbox-cds-services (node {ref['node']}, one process), "
            f"{r['reference_request_bytes']}-byte order-select, rating {ref['rating']}"
        )
    else:
        print(f"  reference: not given ({ref['why_not']}); our figures alone")
    w = r["wrk"]
    print(
        f"  wrk -t{w['threads']} -c{w['connections']}, {w['seconds']} s per run, {w['rounds']} round(s) interleaved (req/s):"
    )
    print("    round        hello         ours    reference")
    for i, hello in enumerate(r["rounds"]["hello"]):
        ours = r["rounds"]["ours"][i]
        peer = r["rounds"]["reference"][i] if r["rounds"]["reference"] else None
        peer_text = f"{peer['requests_per_second']:>12.1f}" if peer else f"{'-':>12}"
        print(
            f"    {i + 1:>5} {hello['requests_per_second']:>12.1f} {ours['requests_per_second']:>12.1f} {peer_text}"
            f"   (ours p50 {ours.get('p50_ms')} ms, p99 {ours.get('p99_ms')} ms)"
        )
    ref_text = f"{med['reference']:>12.1f}" if med["reference"] is not None else f"{'-':>12}"
    print(f"   median {med['hello']:>12.1f} {med['ours']:>12.1f} {ref_text}")
    if r["ratio_ours_over_reference"] is not None:
        print(f"  ratio ours / reference: {r['ratio_ours_over_reference']:.2f} x (target >= 1.5)")
    else:
        print("  ratio ours / reference: - (reference not given)")
    print(f"  ratio ours / hello (GET /healthz, same server): {r['ratio_ours_over_hello']:.1%}")
    a = r["at_70_percent"]
    print(
        f"  open loop at 70% of ours: {a['target_rate']} req/s scheduled, {a['achieved_rate']} achieved, "
        f"{a['completed']}/{a['scheduled']} completed: p50 {a['p50_ms']} ms  p90 {a['p90_ms']} ms  "
        f"p99 {a['p99_ms']} ms  max {a['max_ms']} ms (target p99 <= 50 ms; latency from the scheduled send "
        f"time)  errors {a['errors']}  non-2xx {a['non_2xx']}  generator CPU {a['generator_cpu_cores']} cores"
    )
    print("  completions per second: " + " ".join(str(n) for n in a["completions_per_second"]))
    print(
        "  worst latency per scheduled second (ms): "
        + " ".join(f"{row['max_ms']:.0f}" for row in a["per_second"])
    )
    for flag in r["flags"]:
        print(f"  FLAG: {flag}")
    d = r["diagnostics"]
    prof = d["handler_profile"]
    print(
        f"  diagnostic: one SQLite WAL synchronous=FULL commit alone: median {d['sqlite_wal_full_commit']['median_ms']} ms"
    )
    print(
        f"  diagnostic, in-process (JWT on): {prof['unprofiled_ms_per_request']} ms per distinct request, of which "
        f"JWT authenticate {prof['jwt_authenticate_ms_per_request']} ms ({prof['jwt_share_of_request']:.0%}; the {r['jwt']['algorithm']} "
        f"signature check alone {prof['jwt_signature_verify_ms']} ms); top cumulative under cProfile:"
    )
    for row in prof["top_cumulative"]:
        print(
            f"    {row['cumulative_ms_per_request']:>8.3f} ms  {row['calls_per_request']:>5.1f} calls  {row['function']}"
        )


def _print_fhir(r: dict[str, Any]) -> None:
    slow = r["slowest_single_query"]
    print(
        "  single queries (median):  "
        + ", ".join(f"{t} {v['median_ms']} ms" for t, v in r["single_queries"].items())
    )
    print(
        f"  all six fired at once from the bench: {r['parallel_queries']['median_ms']} ms (median)\n"
        f"  order-sign, no prefetch (FHIR fallback): median {r['order_sign_no_prefetch']['median_ms']} ms, "
        f"p90 {r['order_sign_no_prefetch']['p90_ms']} ms\n"
        f"  order-sign, full prefetch (same patient): median {r['order_sign_full_prefetch']['median_ms']} ms\n"
        f"  ratio fallback / slowest single query ({slow['type']}, {slow['median_ms']} ms): "
        f"{r['ratio_fallback_over_slowest_query']} x (target <= 1.5 x)\n"
        f"  ratio fallback / six queries in parallel: {r['ratio_fallback_over_parallel_queries']} x"
    )


def _print_audit(r: dict[str, Any]) -> None:
    base = r["in_process"]
    print(
        f"  {r['patients']} synthetic patients, {r['runs'][0]['orders']} orders, {r['partitions']} partitions "
        f"(load average {r['load_average_1m']} on {r['cpu_count']} cores)\n"
        f"  in-process engine: {base['evaluations_per_second']:>8.1f} evaluations/s ({base['orders']} orders)"
    )
    for run in r["runs"]:
        print(
            f"  {run['workers']} worker(s): {run['orders_per_second_evaluating']:>8.1f} orders/s evaluating "
            f"({run['orders_per_second_per_worker']:.1f}/worker, ratio {run['ratio_per_worker_to_in_process']} "
            f"of in-process, target >= {r['target_ratio_per_worker']}); end to end {run['orders_per_second_total']} "
            f"orders/s in {run['seconds_total']} s; peak worker memory {run['peak_worker_rss_mb']} MB"
        )
    print(
        "  10 million orders: "
        + ", ".join(f"{h} h on {w} workers" for w, h in r["hours_for_10_million_orders_by_workers"].items())
        + " (linear in workers at the measured orders/s per worker)"
    )


def _section(
    name: str, fn: Callable[[], dict[str, Any]], printer: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    print(f"\n== {name}", flush=True)
    started = time.monotonic()
    try:
        result = fn()
    except Exception as exc:  # a failing benchmark is reported, the others still run
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    if "skipped" in result:
        print(f"  skipped: {result['skipped']}")
    elif "error" in result:
        print(f"  FAILED: {result['error']}")
    else:
        printer(result)
    print(f"  ({result['wall_seconds']} s)", flush=True)
    return result


def run(only: tuple[str, ...], quick: bool) -> dict[str, Any]:
    from bench.fhir_fallback import bench_fhir_fallback
    from bench.http_load import bench_http

    criteria = engine_bench.default_criteria()
    results: dict[str, Any] = {}
    if "engine" in only:
        results["engine"] = _section(
            "1. engine: evaluations/s for a 50-resource patient (parse included) vs json.loads",
            lambda: engine_bench.bench_engine(criteria, seconds=1.0 if quick else 4.0),
            _print_engine,
        )
    if "profile" in only:
        results["profile"] = _section(
            "1b. engine profile (cProfile)",
            lambda: engine_bench.profile_engine(criteria, calls=20 if quick else 200),
            _print_profile,
        )
    if "http" in only:
        results["http"] = _section(
            "2. HTTP order-select (JWT on) vs the reference PAMA service (PEER_DIR) and hello",
            lambda: bench_http(seconds=3 if quick else 10, load_seconds=5.0 if quick else 15.0),
            _print_http,
        )
    if "fhir" in only:
        results["fhir"] = _section(
            "3. FHIR fallback: order-sign without prefetch vs the slowest single query",
            lambda: bench_fhir_fallback(repeats=5 if quick else 30),
            _print_fhir,
        )
    if "scale" in only:
        sizes = (10, 100, 1000) if quick else (10, 100, 1000, 5000)
        results["scale"] = _section(
            "4. engine cost vs record size (parse excluded; json.loads of the same bytes as baseline)",
            lambda: engine_bench.bench_scale(criteria, sizes=sizes, seconds_per_size=0.5 if quick else 3.0),
            _print_scale,
        )
    if "audit" in only:
        from bench.audit import bench_audit

        results["audit"] = _section(
            "5. audit on Dask: orders/s on 1 and 2 workers vs the in-process engine",
            lambda: bench_audit(patients=1000 if quick else None),
            _print_audit,
        )
    return results


def _targets(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("http", "fhir"):
        out.update(results.get(name, {}).get("targets", {}))
    if "linear_or_better" in results.get("scale", {}):
        out["scale_linear_or_better"] = results["scale"]["linear_or_better"]
    if results.get("audit", {}).get("runs"):
        audit = results["audit"]
        out["audit_ratio_per_worker_at_least_target"] = all(
            r["ratio_per_worker_to_in_process"] >= audit["target_ratio_per_worker"] for r in audit["runs"]
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs")
    parser.add_argument("--out", default=None, help="JSON results file (default bench/results/<time>.json)")
    args = parser.parse_args(argv)
    only = tuple(x.strip() for x in args.only.split(",") if x.strip())
    unknown = sorted(set(only) - set(ALL))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    started = time.monotonic()
    stamp = datetime.now(UTC)
    print(
        f"spine-auc benchmarks, {stamp:%Y-%m-%d %H:%M:%S} UTC, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    results = run(only, args.quick)
    document = {
        "started": stamp.isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "results": results,
        "targets": _targets(results),
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    out = Path(args.out) if args.out else REPO / "bench" / "results" / f"{stamp:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print("\n== targets")
    for name, held in document["targets"].items():
        print(f"  {'OK  ' if held else 'MISS'} {name}")
    print(f"\nresults: {out}  ({document['wall_seconds']} s)")
    failed = [name for name, r in results.items() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
