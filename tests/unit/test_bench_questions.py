"""The question page benchmark must not rot: run it on two questions (no timing is asserted)."""

from __future__ import annotations

from bench.questions_page import measure


def test_the_page_benchmark_runs_and_reports_its_weight() -> None:
    figures = measure(2)
    assert figures["n"] == 2
    assert figures["getMedianMs"] > 0 and figures["postMedianMs"] > 0
    assert 500 < figures["formHtmlBytes"] < 20_000 and figures["cssBytes"] > 0
