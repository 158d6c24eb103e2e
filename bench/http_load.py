"""HTTP order-select benchmark (issue #15): our service against the reference PAMA service, side by side.

Our service runs as production does (``spine-auc serve``: its worker class, worker and thread counts, access
log) with JWT verification on: a trusted issuer whose JWK Set is a file, and every request carries its own
ES384 token (distinct ``jti``, ``aud`` = the exact service URL). Every request body is distinct (nothing a
cache could answer). Three interleaved rounds of wrk -t1 -c8: hello (``GET /healthz`` of the same server),
ours, the reference (``PEER_DIR``); the medians give the ratios. Then an open-loop run at 70 % of our median
maximum (latency from the scheduled send time, per-second completions). Non-2xx replies are counted and flag
the run.
"""

from __future__ import annotations

import contextlib
import cProfile
import json
import multiprocessing
import os
import pstats
import re
import shutil
import sqlite3
import statistics
import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import jwt

from app import create_app
from bench import peer as peer_mod
from bench.loadgen import constant_rate, distinct_body
from bench.patients import VARY_TOKEN, hook_request
from bench.serve_cli import Served
from bench.server import HOST, post_json
from bench.tokens import ALGORITHM, TokenSigner, signing_rate, tokens_needed, write_token_file
from bench.wrk import ensure_wrk, parse_wrk, run_wrk, wrk_script

__all__ = ["bench_http", "parse_wrk"]

ORDER_SELECT_PATH = "/cds-services/spine-auc-order-select"
HELLO_PATH = "/healthz"
REPO = Path(__file__).resolve().parent.parent
WARMUP_TOKENS = 2000
TARGET_RATIO_TO_REFERENCE = 1.5
TARGET_P99_MS = 50.0


class _Counter:
    """Distinct counter ranges for successive runs, so no run repeats a body another run sent."""

    def __init__(self) -> None:
        self.next = 1

    def take(self, n: int = 10**6) -> int:
        start, self.next = self.next, self.next + n
        return start


def sqlite_commit_baseline(directory: str, commits: int = 50) -> dict[str, float]:
    """Median time of one small INSERT + COMMIT in SQLite WAL with ``synchronous=FULL`` (the audit store's
    settings) in ``directory``: the fsync a worker waits for on every CDS call."""
    samples: list[float] = []
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        db = sqlite3.connect(str(Path(tmp) / "commit.db"), isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
            for i in range(commits + 2):
                t0 = time.perf_counter()
                db.execute("BEGIN")
                db.execute("INSERT INTO t (body) VALUES (?)", ("x" * 4000 + str(i),))
                db.execute("COMMIT")
                samples.append(time.perf_counter() - t0)
        finally:
            db.close()
    ordered = sorted(samples[2:])
    return {
        "median_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p90_ms": round(ordered[int(0.9 * len(ordered))] * 1000, 3),
    }


def _short(filename: str) -> str:
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return filename


def profile_handler(body: bytes, signer: TokenSigner, *, calls: int = 100, top: int = 12) -> dict[str, Any]:
    """In-process (Flask test client, same app, temporary SQLite, JWT verification on): the handler's time
    per distinct request, its cProfile, and what verifying the ES384 token costs of it (the signature alone,
    and the whole ``authenticate`` with the store-backed ``jti`` claim)."""
    base = "http://localhost"
    aud = base + ORDER_SELECT_PATH
    with tempfile.TemporaryDirectory(prefix="spine-auc-bench-prof-") as tmp:
        jwks = signer.write_jwks(Path(tmp) / "jwks.json")
        application = create_app(
            {
                "DATA_DIR": str(Path(tmp) / "data"),
                "BIND_HOST": HOST,
                "CDS_TRUSTED_ISSUERS": json.loads(signer.trusted_issuers(jwks)),
            }
        )
        client = application.test_client()
        tokens = iter(list(signer.tokens(aud, 2 * calls + 5)))
        counter = iter(range(9_000_000, 10_000_000))

        def post() -> int:
            one = distinct_body(body, (VARY_TOKEN, next(counter)), 0)
            headers = {"Authorization": f"Bearer {next(tokens)}"}
            return client.post(
                ORDER_SELECT_PATH, data=one, content_type="application/json", headers=headers, base_url=base
            ).status_code

        for _ in range(5):
            if (status := post()) != 200:
                raise RuntimeError(f"order-select answered {status} in-process")
        t0 = time.perf_counter()
        for _ in range(calls):
            post()
        plain_ms = (time.perf_counter() - t0) / calls * 1000
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            post()
        profiler.disable()
        auth = application.extensions["spine_auc.cds_auth"]
        fresh = list(signer.tokens(aud, calls))
        t0 = time.perf_counter()
        for token in fresh:
            auth.authenticate(f"Bearer {token}", audience_url=aud)
        authenticate_ms = (time.perf_counter() - t0) / calls * 1000
        public = signer.private.public_key()
        t0 = time.perf_counter()
        for token in fresh:
            jwt.decode(token, public, algorithms=[ALGORITHM], audience=aud)
        signature_ms = (time.perf_counter() - t0) / calls * 1000
        application.extensions["spine_auc.store"].engine.dispose()
    raw: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    wanted = []
    for (filename, line, name), (_cc, nc, _tt, ct, _callers) in raw.items():
        shown = _short(filename)
        if shown.startswith("app/") or name in {"<method 'commit' of 'sqlite3.Connection' objects>"}:
            wanted.append(
                {
                    "function": f"{shown}:{line}({name})",
                    "calls_per_request": round(nc / calls, 1),
                    "cumulative_ms_per_request": round(ct / calls * 1000, 3),
                }
            )
    wanted.sort(key=lambda row: row["cumulative_ms_per_request"], reverse=True)
    return {
        "requests": calls,
        "unprofiled_ms_per_request": round(plain_ms, 3),
        "jwt_authenticate_ms_per_request": round(authenticate_ms, 3),
        "jwt_signature_verify_ms": round(signature_ms, 3),
        "jwt_share_of_request": round(authenticate_ms / plain_ms, 3) if plain_ms else None,
        "top_cumulative": wanted[:top],
    }


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value else None


def _threads(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def worker_model(server: Served) -> dict[str, Any]:
    """What ``spine-auc serve`` started: gunicorn's worker class (from its log), its worker processes and
    the OS threads each one holds (after load: a gthread worker's pool threads start on demand)."""
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        text = ""
    found = re.search(r"Using worker: ([\w.]+)", text)
    pids = server.worker_pids()
    return {
        "worker_class": found.group(1) if found else None,
        "workers": len(pids),
        "os_threads_per_worker": [_threads(pid) for pid in pids],
    }


def _flags(label: str, run: dict[str, Any]) -> list[str]:
    out = []
    if run.get("non_2xx"):
        out.append(f"{label}: {run['non_2xx']} non-2xx replies")
    if run.get("socket_errors"):
        out.append(f"{label}: {run['socket_errors']} socket errors")
    if run.get("tokens_short"):
        out.append(f"{label}: token table exhausted for {run['tokens_short']} requests (replayed tokens)")
    if run.get("errors"):
        out.append(f"{label}: {run['errors']} requests failed or timed out")
    return out


def _median_rps(runs: list[dict[str, Any]]) -> float:
    return round(statistics.median(r["requests_per_second"] for r in runs), 1)


class _Ours:
    """Our order-select under wrk: a fresh token file per run (sized from the fastest run so far)."""

    def __init__(
        self, wrk: str, server: Served, signer: TokenSigner, tmp: Path, body_file: Path, pool: Executor
    ) -> None:
        self.wrk, self.server, self.signer, self.tmp, self.body_file = wrk, server, signer, tmp, body_file
        self.pool = pool
        self.url = server.url + ORDER_SELECT_PATH
        self.counter = _Counter()
        self.expected_rps = 0.0
        self.signing_seconds = 0.0
        self.tokens_signed = 0

    def tokens(self, count: int) -> list[str]:
        t0 = time.perf_counter()
        tokens = self.signer.many(self.url, count, self.pool)
        self.signing_seconds += time.perf_counter() - t0
        self.tokens_signed += count
        return tokens

    def sign(self, count: int) -> Path:
        path = self.tmp / "tokens.txt"
        write_token_file(path, self.tokens(count))
        return path

    def run(self, seconds: float, *, tokens: int | None = None) -> dict[str, Any]:
        count = tokens if tokens is not None else tokens_needed(self.expected_rps, seconds)
        script = wrk_script(
            body_file=self.body_file,
            vary_token=VARY_TOKEN,
            vary_from=self.counter.take(),
            tokens_file=self.sign(count),
        )
        result = run_wrk(self.wrk, self.url, script, self.tmp / "ours.lua", seconds=seconds)
        result["tokens_signed"] = count
        self.expected_rps = max(self.expected_rps, result["requests_per_second"])
        return result


def _check_ours(server: Served, signer: TokenSigner, hook: dict[str, Any]) -> dict[str, Any]:
    url = server.url + ORDER_SELECT_PATH
    data = json.dumps(hook).encode("utf-8")
    status, answer, _ = post_json(url, data, headers={"Authorization": f"Bearer {signer.sign(url)}"})
    cards = answer.get("cards") if isinstance(answer, dict) else None
    if status != 200 or not cards:
        raise RuntimeError(f"order-select answered {status}: {str(answer)[:300]}")
    unauthenticated, _, _ = post_json(url, data)
    if unauthenticated != 401:
        raise RuntimeError(f"order-select without a JWT answered {unauthenticated}, not 401: JWT not on")
    return {
        "cards": len(cards),
        "first_card_summary": cards[0].get("summary"),
        "without_jwt": unauthenticated,
    }


def _check_peer(peer: peer_mod.PeerService, body: bytes) -> str:
    status, answer, _ = post_json(peer.url(peer_mod.PAMA_PATH), body)
    rating = peer_mod.pama_rating(answer)
    if status != 200 or rating != peer_mod.EXPECTED_RATING:
        raise RuntimeError(f"the reference answered {status} with rating {rating!r}: {str(answer)[:300]}")
    return rating


def bench_http(
    *,
    seconds: float = 10,
    load_seconds: float = 15.0,
    rounds: int = 3,
    resources: int = 50,
    peer_dir: str | None = None,
) -> dict[str, Any]:
    """Interleaved wrk rounds (hello, ours, reference), medians and ratios; then open loop at 70 % of ours."""
    wrk = ensure_wrk()
    if wrk is None:
        return {"skipped": "wrk is not installed (apt-get install wrk) and could not be installed here"}
    peer_dir = peer_dir if peer_dir is not None else os.environ.get("PEER_DIR") or None
    peer_missing = peer_mod.peer_problem(peer_dir)
    hook = hook_request("order-select", resources, vary=True)
    body = json.dumps(hook, separators=(",", ":")).encode("utf-8")
    peer_body = peer_mod.body_bytes(VARY_TOKEN)
    signer = TokenSigner()
    tmp = Path(tempfile.mkdtemp(prefix="spine-auc-bench-http-"))
    flags: list[str] = []
    runs: dict[str, list[dict[str, Any]]] = {"hello": [], "ours": [], "reference": []}
    try:
        body_file, peer_file = tmp / "order-select.json", tmp / "pama.json"
        body_file.write_bytes(body)
        peer_file.write_bytes(peer_body)
        jwks = signer.write_jwks(tmp / "jwks.json")
        env = {"SPINE_AUC_CDS_TRUSTED_ISSUERS": signer.trusted_issuers(jwks)}
        with contextlib.ExitStack() as stack:
            # Signing processes forked first, while this process has no threads; used only between runs.
            pool = stack.enter_context(
                ProcessPoolExecutor(
                    max_workers=os.cpu_count() or 1, mp_context=multiprocessing.get_context("fork")
                )
            )
            # BENCH_WORKERS / BENCH_THREADS: try another worker model; unset, `spine-auc serve`'s defaults.
            workers, threads = _env_int("BENCH_WORKERS"), _env_int("BENCH_THREADS")
            server = stack.enter_context(Served(tmp / "data", workers=workers, threads=threads, env=env))
            check = _check_ours(server, signer, hook)
            peer = None if peer_missing else stack.enter_context(peer_mod.PeerService(str(peer_dir)))
            rating = _check_peer(peer, peer_body) if peer else None
            # The reference reads no JWT: it gets one constant token, so its requests are shaped like ours.
            peer_headers = (
                {"Authorization": f"Bearer {signer.sign(peer.url(peer_mod.PAMA_PATH))}"} if peer else {}
            )
            peer_counter = _Counter()
            ours = _Ours(wrk, server, signer, tmp, body_file, pool)
            sign_speed = signing_rate(signer, ours.url)
            hello_script = wrk_script(method="GET")

            def hello(run_seconds: float) -> dict[str, Any]:
                return run_wrk(
                    wrk, server.url + HELLO_PATH, hello_script, tmp / "hello.lua", seconds=run_seconds
                )

            def reference(run_seconds: float) -> dict[str, Any]:
                assert peer is not None
                script = wrk_script(
                    body_file=peer_file,
                    vary_token=VARY_TOKEN,
                    vary_from=peer_counter.take(),
                    headers=peer_headers,
                )
                return run_wrk(
                    wrk, peer.url(peer_mod.PAMA_PATH), script, tmp / "peer.lua", seconds=run_seconds
                )

            # Warm up (imports, first SQLite writes, V8's JIT); not counted.
            hello(1)
            warm = ours.run(1, tokens=WARMUP_TOKENS)
            if peer:
                reference(1)
            for n in range(1, rounds + 1):
                runs["hello"].append(hello(seconds))
                runs["ours"].append(ours.run(seconds))
                if peer:
                    runs["reference"].append(reference(seconds))
                for name, round_runs in runs.items():
                    if round_runs and len(round_runs) == n:
                        flags += _flags(f"{name} round {n}", round_runs[-1])
            ours_rps = _median_rps(runs["ours"])
            rate = 0.7 * ours_rps
            scheduled = int(rate * load_seconds)
            load_tokens = ours.tokens(scheduled)
            at_70 = constant_rate(
                HOST,
                server.port,
                ORDER_SELECT_PATH,
                body,
                rate=rate,
                duration=load_seconds,
                vary=(VARY_TOKEN, ours.counter.take()),
                tokens=load_tokens,
            ).summary()
            flags += _flags("open loop at 70%", at_70)
            model = worker_model(server)
        commit = sqlite_commit_baseline(tempfile.gettempdir())
        handler = profile_handler(body, signer)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    hello_rps = _median_rps(runs["hello"])
    ref_rps = _median_rps(runs["reference"]) if runs["reference"] else None
    ratio_ref = round(ours_rps / ref_rps, 3) if ref_rps else None
    p99 = at_70["p99_ms"]
    targets: dict[str, bool] = {
        "p99_at_70_percent_at_most_50ms": p99 is not None and p99 <= TARGET_P99_MS,
        "http_all_replies_2xx": not flags,
    }
    if ratio_ref is not None:
        targets["ratio_to_reference_at_least_1.5"] = ratio_ref >= TARGET_RATIO_TO_REFERENCE
    return {
        "resources_in_prefetch": resources,
        "request_bytes": len(body),
        "reference_request_bytes": len(peer_body),
        "server": {"command": "spine-auc serve", **model},
        "jwt": {
            "algorithm": ALGORITHM,
            "issuer_key_set": "jwks_file",
            "without_jwt_status": check["without_jwt"],
            "signing": sign_speed,
            "signing_processes": os.cpu_count() or 1,
            "tokens_signed": ours.tokens_signed,
            "signing_seconds": round(ours.signing_seconds, 1),
        },
        "cards": check["cards"],
        "first_card_summary": check["first_card_summary"],
        "reference": {
            "given": peer is not None,
            "why_not": peer_missing,
            "node": peer_mod.node_version() if peer is not None else None,
            "rating": rating,
        },
        "wrk": {"threads": 1, "connections": 8, "seconds": seconds, "rounds": rounds},
        "warmup_ours": warm,
        "rounds": runs,
        "median_rps": {"hello": hello_rps, "ours": ours_rps, "reference": ref_rps},
        "ratio_ours_over_reference": ratio_ref,
        "ratio_ours_over_hello": round(ours_rps / hello_rps, 3) if hello_rps else None,
        "at_70_percent": at_70,
        "flags": flags,
        "diagnostics": {"sqlite_wal_full_commit": commit, "handler_profile": handler},
        "targets": targets,
    }
