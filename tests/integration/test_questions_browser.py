"""The question page in a real browser: headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by
Selenium with the driver path given, so Selenium Manager downloads nothing) against the app served by
werkzeug on 127.0.0.1.

One screenshot per step is kept; on failure they are written under the test's temporary folder. With
``SPINE_AUC_DOCS_SCREENSHOT=1`` the form's screenshot is also written to ``docs/questions-page.png`` (README).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.contract.cds_app import make_app

REPO = Path(__file__).resolve().parents[2]
HOOK = json.loads((REPO / "fhir_fixtures" / "hooks" / "prefetch-full-insufficient-data.json").read_text())
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser or a driver

if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
    if (
        os.environ.get("SPINE_AUC_REQUIRE_BROWSER") or os.environ.get("SPINE_AUC_REQUIRE_POSTGRES") == "1"
    ):  # CI
        pytest.fail("chromium and chromium-driver are required (apt-get install chromium chromium-driver)")
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    app = make_app(tmp_path / "data", ALLOW_UNAUTHENTICATED=True)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(5)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=900,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Steps:
    """Screenshots of each step, written under the test's folder when the test fails."""

    def __init__(self, driver: WebDriver, folder: Path):
        self.driver, self.folder, self.shots = driver, folder, list[tuple[str, bytes]]()

    def shot(self, name: str) -> bytes:
        png = self.driver.get_screenshot_as_png()
        self.shots.append((name, png))
        return png

    def write(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for i, (name, png) in enumerate(self.shots, 1):
            (self.folder / f"{i:02d}-{name}.png").write_bytes(png)


@pytest.fixture
def steps(browser: WebDriver, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Steps]:
    recorder = Steps(browser, tmp_path / "screenshots")
    failed_before = request.session.testsfailed
    yield recorder
    if request.session.testsfailed > failed_before:  # the call phase failed (reported before teardown)
        recorder.write()
        print(f"screenshots: {recorder.folder}")


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return dict(json.loads(response.read()))


def hook(base: str, name: str) -> dict[str, Any]:
    body = copy.deepcopy(HOOK["request"])
    body["hookInstance"] = str(uuid.uuid4())
    body["hook"] = name
    if name == "order-sign":
        body["context"].pop("selections", None)
    return post_json(f"{base}/cds-services/spine-auc-{name}", body)


def test_select_answer_rate_then_sign(server: str, browser: WebDriver, steps: Steps) -> None:
    # 1. order-select: not rated, the card links to the question page
    (card,) = hook(server, "order-select")["cards"]
    assert "not rated" in card["summary"]
    (link,) = card["links"]
    assert link["type"] == "absolute" and link["url"].startswith(server + "/questions/")

    # 2. the page: the order, the question as a fieldset, what each answer gives
    browser.get(link["url"])
    form_png = steps.shot("questions")
    if os.environ.get("SPINE_AUC_DOCS_SCREENSHOT"):
        (REPO / "docs" / "questions-page.png").write_bytes(form_png)
    assert "MRI lumbar spine without IV contrast" in browser.find_element(By.TAG_NAME, "h1").text
    legend = browser.find_element(By.CSS_SELECTOR, "fieldset legend").text
    assert "naproxen" in legend and legend.rstrip().endswith(
        ")"
    )  # the question in words (missing[].question)
    assert "gives: Low Back Pain V3: usually appropriate" in browser.page_source
    # the stylesheet shipped with the package applied (no CDN)
    button = browser.find_element(By.CSS_SELECTOR, "button[type=submit]")
    assert button.value_of_css_property("background-color") == "rgba(11, 92, 173, 1)"

    # 3. answer with the keyboard: focus the first radio, arrow to "6 weeks or more", submit with Enter
    first = browser.find_element(By.ID, "management_weeks-0")
    first.send_keys(Keys.SPACE)
    first.send_keys(Keys.ARROW_DOWN)
    chosen = browser.find_element(By.ID, "management_weeks-1")
    assert chosen.is_selected()
    label = browser.find_element(By.CSS_SELECTOR, "label[for=management_weeks-1]").text
    assert label == "6 weeks or more"
    steps.shot("answered")
    chosen.send_keys(Keys.ENTER)

    # 4. the rating with its reasons
    category = browser.find_element(By.ID, "category").text
    steps.shot("rated")
    assert category.startswith("Usually appropriate")
    reasons = browser.find_element(By.CSS_SELECTOR, "ul.reasons").text
    assert "answered by the ordering clinician" in reasons

    # 5. the same order through order-sign: rated, with the PAMA system action
    signed = hook(server, "order-sign")
    (card2,) = signed["cards"]
    assert "usually appropriate" in card2["summary"].lower()
    (action,) = signed["systemActions"]
    assert action["type"] == "update" and action["resource"]["id"] == "sr-mri"
    rating = next(e for e in action["resource"]["extension"] if e["url"].endswith("/pama-rating"))
    assert rating["valueCodeableConcept"]["coding"][0]["code"] == "appropriate"


def test_expired_link_and_invalid_answer(
    server: str, browser: WebDriver, steps: Steps, tmp_path: Path
) -> None:
    from app.security.links import issue, secret_from_config, verify

    (card,) = hook(server, "order-select")["cards"]
    url = card["links"][0]["url"]

    # an invalid answer: no choice made → the form again, with the error announced, nothing lost
    browser.get(url)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    alert = browser.find_element(By.CSS_SELECTOR, "[role=alert]")
    steps.shot("no-answer")
    assert "Answer at least one question" in alert.text
    assert browser.find_elements(By.CSS_SELECTOR, "fieldset")
    # an answer that is not an option (a tampered form) → 400 with the form again
    browser.execute_script("document.getElementById('management_weeks-0').value = '99'")
    browser.find_element(By.ID, "management_weeks-0").click()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    steps.shot("not-an-option")
    assert "choose one of the answers listed" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text

    # the same question behind an expired (validly signed) token
    secret = secret_from_config({"DATA_DIR": str(tmp_path / "data")})
    token = url.rsplit("/", 1)[1]
    expired = issue(secret, verify(secret, token).question_id, 1)
    browser.get(f"{server}/questions/{expired}")
    steps.shot("expired")
    assert browser.find_element(By.TAG_NAME, "h1").text == "This link has expired"
    assert not browser.find_elements(By.TAG_NAME, "form")
