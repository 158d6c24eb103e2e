"""Traffic for the auditor page tests: API evaluations of the example bundles, CDS calls, feedback.

``post(path, body) -> (status, json)`` is the caller's transport (a Flask test client or HTTP to a real
server), so the same traffic feeds the test-client tests and the browser test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SELECT = "/cds-services/spine-auc-order-select"
Post = Callable[[str, dict[str, Any]], tuple[int, Any]]


def populate(post: Post) -> dict[str, int]:
    """Evaluate every example bundle once via the API, the swap hook twice (one override, one accept)."""
    api = 0
    for path in sorted((REPO / "fhir_fixtures" / "examples").glob("*.json")):
        status, body = post("/api/v1/appropriateness", json.loads(path.read_text(encoding="utf-8")))
        assert status == 200, body
        api += len(body["results"])
    hook = json.loads((REPO / "fhir_fixtures" / "hooks" / "prefetch-full-rated-swap.json").read_text())[
        "request"
    ]
    cards = []
    for _ in range(2):
        hook["hookInstance"] = str(uuid.uuid4())
        status, body = post(SELECT, hook)
        assert status == 200, body
        cards.append(body["cards"][0])
    reason = cards[0]["overrideReasons"][0]
    override = {
        "card": cards[0]["uuid"],
        "outcome": "overridden",
        "overrideReason": {"reason": reason, "userComment": "red flags not yet charted"},
        "outcomeTimestamp": "2026-11-10T09:02:00Z",
    }
    accept = {
        "card": cards[1]["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": cards[1]["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2026-11-10T09:03:00Z",
    }
    status, body = post(SELECT + "/feedback", {"feedback": [override, accept]})
    assert status == 200, body
    return {"api": api, "cds": 2, "override_reason": reason.get("display") or reason.get("code")}
