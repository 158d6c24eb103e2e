"""/audit in headless Chromium against a real server on 127.0.0.1: sign in, read, filter, drill down."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.security.auditor_auth import digest_of
from tests.audit_page_data import populate
from tests.browser import chrome
from tests.browser.server import http_post, running_server

TOKEN = "browser-auditor-token"
pytestmark = pytest.mark.skipif(chrome.missing() is not None, reason=str(chrome.missing()))


def test_an_auditor_signs_in_filters_and_drills_down(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    env = {"SPINE_AUC_AUDITOR_TOKENS": f'["sha256:{digest_of(TOKEN)}"]'}
    with running_server(tmp_path, env) as base:
        sent = populate(http_post(base))
        driver = chrome.start()
        try:
            driver.get(base + "/audit")
            driver.find_element(By.ID, "token").send_keys("not-the-token")
            driver.find_element(By.ID, "sign-in").click()
            assert driver.find_element(By.ID, "login-failed").is_displayed()
            driver.find_element(By.ID, "token").send_keys(TOKEN)
            driver.find_element(By.ID, "sign-in").click()
            WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "filters"))
            total = sent["api"] + sent["cds"]
            assert driver.find_element(By.ID, "shown").text == str(total)
            assert len(driver.find_elements(By.CSS_SELECTOR, "svg.chart")) >= 4
            assert "red flags not yet charted" in driver.find_element(By.ID, "feedback").text
            if os.environ.get("AUDIT_SCREENSHOT"):
                driver.save_screenshot(os.environ["AUDIT_SCREENSHOT"])

            Select(driver.find_element(By.ID, "category")).select_by_value("usually-appropriate")
            driver.find_element(By.ID, "apply").click()
            WebDriverWait(driver, 20).until(lambda d: "category=usually-appropriate" in d.current_url)
            shown = int(driver.find_element(By.ID, "shown").text)
            assert 0 < shown < total
            assert "category=usually-appropriate" in driver.current_url

            driver.find_element(By.CSS_SELECTOR, "#overview a.n").click()
            WebDriverWait(driver, 20).until(lambda d: "/audit/orders" in d.current_url)
            rows = driver.find_elements(By.CSS_SELECTOR, "#orders tr")[1:]
            assert len(rows) == shown
            assert all("usually-appropriate" in row.text for row in rows)
        finally:
            driver.quit()
