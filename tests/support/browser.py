"""Headless Chromium for the page tests, through Selenium and Debian's chromedriver.

The flags keep Chromium from reaching for the network by itself (component
updates, safe browsing, sync...): this machine's network is closed, and the
tests assert that the page itself asks nothing of anyone but the station, so
background traffic must not muddy the request log. A fresh profile each
time, so no cookie survives between tests.

Every request the page makes is read back from Chromium's performance log
(``Network.requestWillBeSent``): :func:`requested_urls`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
         "--disable-default-apps", "--disable-extensions", "--mute-audio")
PHONE = (390, 844)   # CSS pixels of a common phone in portrait


def require_chromium() -> None:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (./run test installs them)")
    pytest.importorskip("selenium")


@contextmanager
def chromium(size=PHONE, dark: bool = False) -> Iterator["object"]:
    """A headless Chromium at phone size, with request logging on."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="voiceguide-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    if dark:
        options.add_argument("--force-dark-mode")
        options.add_argument("--blink-settings=preferredColorScheme=0")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def requested_urls(driver) -> List[str]:
    """Every URL the page asked for since the last call (documents, scripts, fetches, streams)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
