"""report.html: self-contained, the sections the issue asks for, and every number reproduced by its jq filter."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from html import unescape

import pytest

from app.audit.sections import mr_safety
from app.audit.summary import Summary
from tests.unit.audit.conftest import Audited

FILTER = re.compile(r'<li id="q(\d+)"><code>(.*?)</code> → <b class="expect">(\d+)</b></li>')


def _filters(audited: Audited) -> list[tuple[str, int]]:
    html = (audited.out / "report.html").read_text(encoding="utf-8")
    return [(unescape(cmd), int(value)) for _, cmd, value in FILTER.findall(html)]


def test_report_is_self_contained_with_every_section(audited: Audited) -> None:
    html = (audited.out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html and " src=" not in html
    for section in ("by-topic", "by-procedure", "by-month", "by-requester", "missing", "mr-safety", "swaps"):
        assert f'id="{section}"' in html
    assert html.count("<svg") >= 5
    assert "Why Dask" in html and "Pathling" in html
    rows = [
        json.loads(line) for line in (audited.out / "results.ndjson").read_text(encoding="utf-8").splitlines()
    ]
    not_spine = sum(r["status"] == "not-applicable" for r in rows)
    assert not_spine > 0
    assert f">{not_spine}</a> orders not spine imaging" in html
    # safety[] fills as the engine reports MR safety (clinical v2); the section shows whatever it says.
    mr = Counter(e["status"] for r in rows for e in r["safety"] if e["check"] == "mr-safety")
    section = html.split('id="mr-safety"', 1)[1].split("</section>", 1)[0]
    if mr:
        for status, n in mr.items():
            assert f"<th>{status}</th><td><a" in section and f">{n}</a>" in section
    else:
        assert "no MR-safety findings" in section


def test_mr_safety_hits_are_counted_by_status() -> None:
    rows = [
        {
            "status": "rated",
            "category": "usually-not-appropriate",
            "safety": [
                {"check": "mr-safety", "status": "unsafe"},
                {"check": "pregnancy", "status": "pregnant"},
            ],
        },
        {
            "status": "rated",
            "category": "may-be-appropriate",
            "safety": [{"check": "mr-safety", "status": "unsafe"}],
        },
        {
            "status": "rated",
            "category": "usually-appropriate",
            "safety": [{"check": "mr-safety", "status": "conditional"}],
        },
        {"status": "not-applicable", "safety": [{"check": "mr-safety", "status": "unsafe"}]},
    ]
    summary = Summary()
    for row in rows:
        summary.add(row)
    html = mr_safety(summary, lambda family, key, value: f"[{family}:{key[0]}={value}]")
    assert "[mr:unsafe=2]" in html and "[mr:conditional=1]" in html and "pregnant" not in html


def test_every_number_links_to_a_filter(audited: Audited) -> None:
    html = (audited.out / "report.html").read_text(encoding="utf-8")
    filters = _filters(audited)
    linked = set(re.findall(r'href="#q(\d+)"', html))
    assert linked == {str(i) for i in range(1, len(filters) + 1)}


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed (.ci/run installs it)")
def test_jq_filters_reproduce_the_numbers(audited: Audited) -> None:
    filters = _filters(audited)
    # One filter per family (the command's first condition differs per family), then every 15th.
    by_shape: dict[str, tuple[str, int]] = {}
    for cmd, value in filters:
        by_shape.setdefault(re.sub(r'"[^"]*"', '""', cmd), (cmd, value))
    chosen = list(by_shape.values()) + filters[::60]
    assert len(chosen) >= 8
    for cmd, expected in chosen:
        done = subprocess.run(cmd, shell=True, cwd=audited.out, capture_output=True, text=True, check=True)
        assert int(done.stdout) == expected, cmd
