"""The question page's server time (GET and POST, median of N, in-process) and its weight in bytes.

    python -m bench.questions_page [N]

In-process: the Flask test client against a temporary SQLite store, so the time is the server's own (routing,
token check, store reads/writes, re-rating, template) without network. Each POST answers its own question
(links are single-use), opened beforehand by an order-select call.
"""

from __future__ import annotations

import copy
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from app import create_app
from app.config import REPO_ROOT

HOOK = REPO_ROOT / "fhir_fixtures" / "hooks" / "prefetch-full-insufficient-data.json"


def _links(client: Any, n: int) -> list[str]:
    request = json.loads(HOOK.read_text())["request"]
    paths = []
    for _ in range(n):
        body = copy.deepcopy(request)
        body["hookInstance"] = str(uuid.uuid4())
        card = client.post("/cds-services/spine-auc-order-select", json=body).get_json()["cards"][0]
        paths.append("/" + card["links"][0]["url"].split("/", 3)[3])
    return paths


def measure(n: int = 100) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATA_DIR": tmp, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}"})
        client = app.test_client()
        paths = _links(client, n)
        get_ms, post_ms, forms = [], [], []
        for path in paths:
            started = time.perf_counter()
            page = client.get(path)
            get_ms.append((time.perf_counter() - started) * 1000)
            assert page.status_code == 200
            html = page.get_data(as_text=True)
            forms.append(re.search(r'name="csrf" value="([^"]+)"', html).group(1))  # type: ignore[union-attr]
        form_bytes = len(page.data)
        for path, csrf in zip(paths, forms, strict=True):
            started = time.perf_counter()
            rated = client.post(path, data={"csrf": csrf, "management_weeks": "1"})
            post_ms.append((time.perf_counter() - started) * 1000)
            assert rated.status_code == 200
        css = client.get("/questions/static/questions.css")
        css.get_data()
        css.close()  # a static file response holds the file open until closed
        return {
            "n": n,
            "getMedianMs": round(statistics.median(get_ms), 2),
            "postMedianMs": round(statistics.median(post_ms), 2),
            "formHtmlBytes": form_bytes,
            "ratedHtmlBytes": len(rated.data),
            "cssBytes": len(css.data),
            "requests": 2,  # the page and its stylesheet; no script, font or image
        }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100), indent=2))
