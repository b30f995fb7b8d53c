"""The page's downloads and its accessibility, in a real Chromium against a real station.

Each exercise has a "Download" link whose address holds ``/audio`` and the
length typed above the list, and says how long and roughly how big the
file is; the page's own cookie is enough to fetch it. axe-core finds no
serious or critical problem, idle or playing, and Tab reaches Download and
Start in order.
"""

from __future__ import annotations

import pytest

from tests.station import test_web_page as page
from tests.station.test_web_page import pairing_address, text, until
from tests.support.axe import serious_findings
from tests.support.browser import chromium

pytestmark = [pytest.mark.audio, pytest.mark.slow, pytest.mark.browser]

# the page tests' station (a PulseAudio null sink, real time), one per module
pulse, station, idle = page.pulse, page.station, page.idle

ROW = '#exercise-list li[data-id="short-check"]'


def open_page(driver, station):
    from selenium.webdriver.common.by import By

    driver.get(pairing_address(station))
    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ROW))
    until(driver, lambda d: text(d, "conn") == "Connected")


def test_each_exercise_offers_a_download_with_its_length_and_size(idle):
    from selenium.webdriver.common.by import By

    with chromium() as driver:
        open_page(driver, idle)
        link = driver.find_element(By.CSS_SELECTOR, f"{ROW} a.ex-download")
        assert link.text.startswith("Download") and "MB" in link.text, link.text
        assert link.get_attribute("href").endswith("/api/exercises/short-check/audio?format=mp3")
        assert link.get_attribute("aria-label").startswith("Download Short check (MP3, ")
        assert link.is_displayed() and link.size["height"] >= 44

        # the length field's value goes into every address, and the size follows it
        driver.find_element(By.ID, "ex-length").send_keys("10m")
        until(driver, lambda d: "length=10m" in d.find_element(By.CSS_SELECTOR, f"{ROW} a").get_attribute("href"))
        link = driver.find_element(By.CSS_SELECTOR, f"{ROW} a.ex-download")
        assert "~4.9 MB" in link.text, link.text
        assert link.get_attribute("aria-label") == "Download Short check (MP3, 10:00, about 4.9 MB)"

        # the page's cookie is enough: the same request the link makes, from the page
        driver.find_element(By.ID, "ex-length").clear()
        driver.find_element(By.ID, "ex-length").send_keys("1m")
        href = until(driver, lambda d: (lambda h: h if "length=1m" in h else None)(
            d.find_element(By.CSS_SELECTOR, f"{ROW} a").get_attribute("href")))
        driver.set_script_timeout(180)
        status, disposition, length, got = driver.execute_async_script("""
            var done = arguments[arguments.length - 1];
            fetch(arguments[0], {credentials: 'same-origin'}).then(function (r) {
              return r.arrayBuffer().then(function (b) {
                done([r.status, r.headers.get('content-disposition'), r.headers.get('content-length'), b.byteLength]);
              });
            }, function (e) { done([0, String(e), null, 0]); });""", href)
        assert status == 200, disposition
        assert 'filename="Short check - 1 min.mp3"' in disposition
        assert int(length) == got > 100_000
        # the size the page promises is the built-ins' average: a minute that is mostly a quiet bed is smaller
        assert 0.3 < got / (60 * 8140) < 1.5


def test_no_serious_accessibility_findings_idle_or_playing(idle):
    with chromium() as driver:
        open_page(driver, idle)
        assert serious_findings(driver) == []
        idle.api("POST", "/api/play", {"id": "short-check", "length": "2m"})
        until(driver, lambda d: text(d, "now-title") == "Short check")
        until(driver, lambda d: d.find_element("id", "now").get_attribute("data-state") == "playing")
        assert serious_findings(driver) == []
        idle.api("POST", "/api/pause")
        until(driver, lambda d: d.find_element("id", "now").get_attribute("data-state") == "paused")
        assert serious_findings(driver) == []


def test_the_keyboard_alone_reaches_download_then_start(idle):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with chromium() as driver:
        open_page(driver, idle)
        # from the length field, Tab walks the list in order: each row's Download, then its Start
        driver.find_element(By.ID, "ex-length").send_keys("25s")
        # the control just before the row (a row for music without a music folder has none of its own)
        controls = driver.find_elements(By.CSS_SELECTOR, "#exercise-list a, #exercise-list button, "
                                                         "#exercise-list select")
        link = driver.find_element(By.CSS_SELECTOR, f"{ROW} a.ex-download")
        index = controls.index(link)
        before = controls[index - 1] if index else driver.find_element(By.ID, "ex-delay")
        driver.execute_script("arguments[0].focus()", before)
        driver.switch_to.active_element.send_keys(Keys.TAB)
        focused = driver.switch_to.active_element
        assert focused.tag_name == "a" and "/api/exercises/short-check/audio" in focused.get_attribute("href")
        assert "length=25s" in focused.get_attribute("href")
        # a visible focus ring on the link
        assert driver.execute_script("return getComputedStyle(arguments[0]).outlineStyle", focused) == "solid"
        focused.send_keys(Keys.TAB)
        start = driver.switch_to.active_element
        assert start.get_attribute("aria-label") == "Start Short check"
        start.send_keys(Keys.ENTER)
        until(driver, lambda d: text(d, "now-title") == "Short check")
        until(driver, lambda d: text(d, "now-total") == "0:25")
