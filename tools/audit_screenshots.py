"""Screenshots for the README: ``docs/audit-report.png`` and ``docs/audit-page.png`` (headless Chromium).

    .venv/bin/python tools/audit_screenshots.py [--patients 2000]

Audits a synthetic export, opens its report.html; starts a server on 127.0.0.1, sends it the example
traffic, signs in to /audit and photographs it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.audit.run import run_audit  # noqa: E402
from app.audit.synth import write_export  # noqa: E402
from app.security.auditor_auth import digest_of  # noqa: E402
from tests.audit_page_data import populate  # noqa: E402
from tests.browser import chrome  # noqa: E402
from tests.browser.server import http_post, running_server  # noqa: E402

TOKEN = "screenshot-auditor"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_export(root / "export", args.patients, seed=7, fixtures=REPO / "fhir_fixtures")
        run_audit(str(root / "export"), str(root / "out"), workers=2)  # the bundled clinical content
        driver = chrome.start(1200, 1500)
        try:
            driver.get((root / "out" / "report.html").as_uri())
            driver.save_screenshot(str(REPO / "docs" / "audit-report.png"))
            env = {"SPINE_AUC_AUDITOR_TOKENS": f'["sha256:{digest_of(TOKEN)}"]'}
            with running_server(root / "data", env) as base:
                populate(http_post(base))
                populate(http_post(base))
                driver.get(base + "/audit")
                driver.find_element("id", "token").send_keys(TOKEN)
                driver.find_element("id", "sign-in").click()
                driver.find_element("id", "filters")
                driver.save_screenshot(str(REPO / "docs" / "audit-page.png"))
        finally:
            driver.quit()
    print("docs/audit-report.png docs/audit-page.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
