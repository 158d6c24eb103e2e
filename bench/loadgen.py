"""A bounded, open-loop, constant-rate HTTP load generator (wrk2-style; Debian has no wrk2).

Requests are *scheduled* at ``start + i / rate``; each one's latency is measured from its scheduled time,
not from when a connection happened to be free, so a stalled server shows up in the tail instead of
silently slowing the generator down (no coordinated omission). It also counts completions per second of
completion time, so a stall shows as a dip then a burst. Each request opens its own connection,
as gunicorn's sync workers close the connection after every response. Loopback only; bounded by a
request count and a wall-clock limit; it stops by itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_IN_FLIGHT = 256


@dataclass
class LoadResult:
    rate: float
    duration: float
    scheduled: int
    completed: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)  # seconds from start, per completed request
    done_at: list[float] = field(default_factory=list)  # seconds from start, when each one completed
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # the generator's own CPU time: it shares the machine with the server

    def percentile(self, p: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return round(ordered[index], 2)

    def timeline(self) -> list[dict[str, Any]]:
        """Per second of the schedule: requests completed and their worst latency (stalls show here)."""
        buckets: dict[int, list[float]] = {}
        for at, latency in zip(self.sent_at, self.latencies_ms, strict=True):
            buckets.setdefault(int(at), []).append(latency)
        return [
            {"second": sec, "completed": len(v), "max_ms": round(max(v), 1)}
            for sec, v in sorted(buckets.items())
        ]

    def completions_per_second(self) -> list[int]:
        """Requests completed in each second of the run (by completion time; a stall reads as 0s)."""
        if not self.done_at:
            return []
        counts = [0] * (int(max(self.done_at)) + 1)
        for at in self.done_at:
            counts[max(0, int(at))] += 1
        return counts

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def summary(self) -> dict[str, Any]:
        return {
            "target_rate": round(self.rate, 1),
            "achieved_rate": round(self.completed / self.wall_seconds, 1) if self.wall_seconds else 0.0,
            "scheduled": self.scheduled,
            "completed": self.completed,
            "errors": self.errors,
            "non_2xx": self.non_2xx,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "p50_ms": self.percentile(50),
            "p90_ms": self.percentile(90),
            "p99_ms": self.percentile(99),
            "max_ms": round(max(self.latencies_ms), 2) if self.latencies_ms else None,
            "per_second": self.timeline(),
            "completions_per_second": self.completions_per_second(),
            "generator_cpu_cores": round(self.cpu_seconds / self.wall_seconds, 2)
            if self.wall_seconds
            else None,
        }


def build_request(
    host: str,
    port: int,
    path: str,
    body: bytes,
    content_type: str = "application/json",
    *,
    token: str | None = None,
) -> bytes:
    """One POST, ``Connection: close``; ``token``: an ``Authorization: Bearer`` header."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n{auth}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _one(host: str, port: int, raw: bytes, timeout: float) -> int:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)  # Connection: close -> read to EOF
    finally:
        writer.close()
    if not data.startswith(b"HTTP/1."):
        raise ConnectionError("no HTTP response")
    return int(data[9:12])


def distinct_body(body: bytes, vary: tuple[str, int] | None, i: int) -> bytes:
    """``body`` with the first ``vary[0]`` replaced by the 10-digit counter ``vary[1] + i`` (same length)."""
    if vary is None:
        return body
    token = vary[0].encode("ascii")
    at = body.find(token)
    if at < 0:
        return body
    return body[:at] + f"{vary[1] + i:010d}".encode("ascii") + body[at + len(token) :]


async def _run(
    host: str,
    port: int,
    path: str,
    body: bytes,
    rate: float,
    duration: float,
    timeout: float,
    vary: tuple[str, int] | None,
    tokens: Sequence[str] | None,
) -> LoadResult:
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError("the load generator only targets loopback")
    total = int(rate * duration)
    result = LoadResult(rate=rate, duration=duration, scheduled=total)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)
    start = loop.time() + 0.05
    tasks: list[asyncio.Task[None]] = []

    static = build_request(host, port, path, body) if vary is None and tokens is None else None

    def request_bytes(i: int) -> bytes:
        if static is not None:
            return static
        token = tokens[i] if tokens is not None else None
        return build_request(host, port, path, distinct_body(body, vary, i), token=token)

    async def fire(scheduled: float, payload: bytes) -> None:
        async with gate:
            try:
                status = await _one(host, port, payload, timeout)
            except (TimeoutError, OSError, ConnectionError, ValueError):
                result.errors += 1
                return
        now = loop.time()
        result.latencies_ms.append((now - scheduled) * 1000.0)
        result.sent_at.append(scheduled - start)
        result.done_at.append(now - start)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        result.completed += 1

    wall0, cpu0 = time.perf_counter(), time.process_time()
    hard_stop = start + duration + timeout + 5
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if loop.time() > hard_stop:
            break
        tasks.append(asyncio.create_task(fire(scheduled, request_bytes(i))))
    remaining = max(0.1, hard_stop - loop.time())
    done, pending = await asyncio.wait(tasks, timeout=remaining) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    result.errors += len(pending)
    result.wall_seconds = time.perf_counter() - wall0
    result.cpu_seconds = time.process_time() - cpu0
    return result


def constant_rate(
    host: str,
    port: int,
    path: str,
    body: bytes,
    *,
    rate: float,
    duration: float,
    timeout: float = 5.0,
    vary: tuple[str, int] | None = None,
    tokens: Sequence[str] | None = None,
) -> LoadResult:
    """Send ``rate`` requests per second for ``duration`` seconds (open loop); latencies from schedule.

    ``vary=(token, start)``: the 10-character ``token`` in the body becomes a 10-digit counter from
    ``start``, so every request differs (same length, so Content-Length holds). ``tokens``: request ``i``
    carries ``Authorization: Bearer tokens[i]`` (at least ``int(rate * duration)`` of them).
    """
    if vary is not None and len(vary[0]) != 10:
        raise ValueError("the vary token must be 10 characters (it becomes a 10-digit counter)")
    if tokens is not None and len(tokens) < int(rate * duration):
        raise ValueError(f"{len(tokens)} tokens for {int(rate * duration)} scheduled requests")
    return asyncio.run(_run(host, port, path, body, rate, duration, timeout, vary, tokens))
