"""The phone page in a real browser: headless Chromium driven by Selenium, against a real station.

The station runs in its own process on a loopback port and plays into a
private PulseAudio null sink (real time), so the session the page shows is
a real one moving at the pace a listener hears it. The browser opens the
pairing address that ``voiceguide station --pairing`` prints, exactly as a
phone would after scanning the QR code.

Screenshots at phone size are kept in ``tests/artifacts/`` (not committed)
for a person to look at; each test prints where.
"""

from __future__ import annotations

import http.server
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.audio_env import PulseNullSink
from tests.support.browser import PHONE, chromium, requested_urls, require_chromium
from tests.support.station_env import Station

pytestmark = [pytest.mark.audio, pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    require_chromium()
    with PulseNullSink(tmp_path_factory.mktemp("page-pulse")) as sink:
        yield sink


@pytest.fixture(scope="module")
def station(pulse, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("page-station")
    with Station(dict(pulse.env, XDG_CONFIG_HOME=str(tmp / "config")), tmp,
                 "--listen", f"127.0.0.1:{free_port()}") as s:
        yield s


@pytest.fixture()
def idle(station):
    yield station.idle()
    station.request("POST", "/api/stop")


def pairing_address(station: Station) -> str:
    done = subprocess.run([sys.executable, "-m", "voiceguide", "station", "--pairing"], env=station.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return re.search(r"http://\S+\?token=\S+", done.stdout).group(0)


def until(driver, what, timeout: float = 20.0):
    """Wait for ``what(driver)`` to be truthy (checked every 50 ms); its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: what(d))


def text(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def click(driver, css: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, css).click()


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def external(urls, origin: str):
    """Requests to anywhere but the station (chrome:// and data: are the browser's own)."""
    return [u for u in urls if re.match(r"(https?|wss?|ftp)://", u) and not u.startswith(origin + "/")]


def test_a_phone_pairs_starts_follows_pauses_resumes_and_stops_a_session(idle):
    from selenium.webdriver.common.by import By

    url = pairing_address(idle)
    origin = f"http://127.0.0.1:{idle.port}"
    with chromium() as driver:
        driver.get(url)
        # the token has left the address bar, and lives in a cookie scripts cannot read
        until(driver, lambda d: d.current_url == origin + "/")
        cookie = driver.get_cookie("voiceguide_token")
        assert cookie["value"] == idle.token and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert driver.execute_script("return document.cookie") == ""

        # the exercises, as `list` has them
        until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#exercise-list li[data-id="short-check"]'))
        item = driver.find_element(By.CSS_SELECTOR, '#exercise-list li[data-id="short-check"]')
        assert "Short check" in item.text and "Three short steps for the station tests." in item.text
        assert text(driver, "now-title") == "Nothing is playing"
        assert not driver.find_element(By.ID, "btn-toggle").is_enabled()
        until(driver, lambda d: text(d, "conn") == "Connected")

        # start it with a length (one field serves the whole list): the card follows the session
        assert len(driver.find_elements(By.CSS_SELECTOR, 'input[name="length"]')) == 1
        driver.find_element(By.ID, "ex-length").send_keys("25s")
        click(driver, '[aria-label="Start Short check"]')
        until(driver, lambda d: text(d, "now-title") == "Short check")
        until(driver, lambda d: text(d, "now-total") == "0:25")   # the length asked for
        until(driver, lambda d: text(d, "now-section") == "One" and "first step" in text(d, "now-text"))
        assert driver.find_element(By.ID, "now-text").get_attribute("aria-live") == "polite"
        assert driver.find_element(By.CSS_SELECTOR, '#exercise-list li[data-id="short-check"]') \
            .get_attribute("class") == "ex-playing"
        # starting from far down the list brings the now-playing card into view
        assert driver.execute_script("return document.getElementById('now').getBoundingClientRect().top") < 100
        screenshot(driver, "phone-playing")
        until(driver, lambda d: text(d, "now-section") == "Two" and "second step" in text(d, "now-text"))

        # pause: the station pauses, the page says so and its clock stands still
        click(driver, "#btn-toggle")
        until(driver, lambda d: text(d, "btn-toggle") == "Resume")
        assert idle.api("GET", "/api/state")["state"] == "paused"
        assert "Paused" in text(driver, "now-state")          # said plainly, not only by the button's word
        screenshot(driver, "phone-paused")
        time.sleep(0.7)                      # the pause fades out (a few hundred ms) first
        held = text(driver, "now-elapsed")
        time.sleep(1.5)
        assert text(driver, "now-elapsed") == held
        click(driver, "#btn-toggle")
        until(driver, lambda d: text(d, "btn-toggle") == "Pause")
        assert idle.api("GET", "/api/state")["state"] == "playing"
        until(driver, lambda d: text(d, "now-elapsed") != held)

        # volume, then stop
        click(driver, '[aria-label="Quieter"]')
        until(driver, lambda d: text(d, "vol") == "-2 dB")
        click(driver, '[aria-label="Louder"]')
        until(driver, lambda d: text(d, "vol") == "0 dB")
        click(driver, "#btn-stop")
        until(driver, lambda d: text(d, "now-title") == "Nothing is playing")
        assert idle.api("GET", "/api/state")["state"] == "idle"

        # the practice log's row for it appears under Recent sessions
        until(driver, lambda d: "Short check" in text(d, "log-list"))
        driver.set_window_size(PHONE[0], 2400)
        screenshot(driver, "phone-full")

        urls = requested_urls(driver)
        assert any(u.startswith(origin + "/api/events") for u in urls)
        assert external(urls, origin) == []
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []


def test_a_schedule_is_added_and_removed_from_the_page(idle):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    units = Path(idle.env["XDG_CONFIG_HOME"]) / "systemd" / "user"
    with chromium() as driver:
        driver.get(pairing_address(idle))
        until(driver, lambda d: text(d, "sched-empty") == "No schedules yet.")
        until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#sched-exercise option[value="short-check"]'))
        Select(driver.find_element(By.ID, "sched-exercise")).select_by_value("short-check")
        field = driver.find_element(By.ID, "sched-at")
        driver.execute_script("arguments[0].value = '06:45'", field)
        for day in ("mon", "wed"):
            click(driver, f'input[name="day"][value="{day}"]')
        click(driver, "#sched-add")
        until(driver, lambda d: "06:45, Mon, Wed: Short check" in text(d, "schedule-list"))
        timer = units / "voiceguide-short-check-0645.timer"
        assert "OnCalendar=Mon,Wed *-*-* 06:45:00" in timer.read_text()
        # a next time only when systemd runs the timer; otherwise why it will not run
        [listed] = idle.api("GET", "/api/schedules")
        assert (listed["inactive"] or "next:") in text(driver, "schedule-list")
        if listed["inactive"]:
            assert "next:" not in text(driver, "schedule-list")
        screenshot(driver, "phone-schedule")
        click(driver, '#schedule-list button[aria-label^="Remove the schedule 06:45"]')
        until(driver, lambda d: text(d, "sched-empty") == "No schedules yet.")
        assert not timer.exists()
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []


def test_the_page_recovers_when_the_station_restarts_and_when_the_phone_wakes(pulse, tmp_path):
    port = free_port()
    env = dict(pulse.env, XDG_CONFIG_HOME=str(tmp_path / "config"))
    first = Station(env, tmp_path, "--listen", f"127.0.0.1:{port}")
    second = None
    try:
        with chromium() as driver:
            driver.get(pairing_address(first))
            until(driver, lambda d: text(d, "conn") == "Connected")
            first.stop()
            until(driver, lambda d: text(d, "conn") == "Reconnecting…")
            second = Station(env, tmp_path, "--listen", f"127.0.0.1:{port}")
            assert second.token == first.token
            until(driver, lambda d: text(d, "conn") == "Connected", timeout=30)
            second.api("POST", "/api/play", {"id": "short-check"})
            until(driver, lambda d: text(d, "now-title") == "Short check")

            # the phone sleeps (the page hides) and wakes: a fresh event stream
            requested_urls(driver)
            driver.execute_script("""
                Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
                document.dispatchEvent(new Event('visibilitychange'));""")
            second.api("POST", "/api/pause")
            time.sleep(0.5)
            assert text(driver, "btn-toggle") == "Pause"        # hidden: no stream, no update
            driver.execute_script("""
                Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});
                document.dispatchEvent(new Event('visibilitychange'));""")
            until(driver, lambda d: text(d, "btn-toggle") == "Resume")
            assert any("/api/events" in u for u in requested_urls(driver))
    finally:
        for s in (first, second):
            if s is not None:
                s.stop()


def test_another_web_site_cannot_press_the_buttons(idle, tmp_path):
    """A page elsewhere posts a form to the station while a paired browser has its cookie."""
    origin = f"http://127.0.0.1:{idle.port}"
    (tmp_path / "evil.html").write_text(f"""<!doctype html><body>
<form id="f" method="post" action="{origin}/api/stop" enctype="text/plain">
<input name='{{"x":"' value='"}}'></form>
<form id="g" method="post" action="{origin}/api/volume"><input name="db" value="-30"></form>
<script>document.getElementById('f').submit();</script></body>""")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with chromium() as driver:
            driver.get(pairing_address(idle))
            until(driver, lambda d: text(d, "conn") == "Connected")
            idle.api("POST", "/api/play", {"id": "short-check"})
            # "localhost" is another site than "127.0.0.1" to the browser
            driver.get(f"http://localhost:{server.server_address[1]}/evil.html")
            until(driver, lambda d: d.current_url.startswith(origin + "/api/stop"))
            assert '"error"' in driver.page_source
            assert idle.api("GET", "/api/state")["state"] == "playing"
    finally:
        server.shutdown()


def test_the_page_works_from_the_keyboard_and_names_every_control(idle):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with chromium() as driver:
        driver.get(pairing_address(idle))
        until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#exercise-list li[data-id="short-check"]'))
        # landmarks, and a name for every control a screen reader lands on
        for css in ("header", "main", "footer", "section#now[aria-labelledby]", "section#exercises[aria-labelledby]",
                    "section#schedules[aria-labelledby]"):
            assert driver.find_elements(By.CSS_SELECTOR, css), css
        unnamed = driver.execute_script("""
            return Array.from(document.querySelectorAll('button, input, select')).filter(function (el) {
              var label = el.labels && el.labels.length ? el.labels[0].textContent : '';
              return !((el.getAttribute('aria-label') || el.textContent || label).trim());
            }).map(function (el) { return el.outerHTML; });""")
        assert unnamed == []
        assert driver.execute_script(
            "return Array.from(document.querySelectorAll('[onclick], div[role=button]')).length") == 0
        # Tab reaches the Start button; the space bar presses it, as on any real button
        start = driver.find_element(By.CSS_SELECTOR, '[aria-label="Start Short check"]')
        buttons = driver.find_elements(By.CSS_SELECTOR, "#exercise-list button")
        index = buttons.index(start)
        before = buttons[index - 1] if index else driver.find_element(By.ID, "ex-length")
        driver.execute_script("arguments[0].focus()", before)
        driver.switch_to.active_element.send_keys(Keys.TAB)
        assert "/api/exercises/short-check/audio" in driver.switch_to.active_element.get_attribute("href")
        driver.switch_to.active_element.send_keys(Keys.TAB)   # its Download link first, then Start
        assert driver.switch_to.active_element == start
        driver.switch_to.active_element.send_keys(Keys.SPACE)
        until(driver, lambda d: text(d, "now-title") == "Short check")
        assert idle.api("GET", "/api/state")["exercise"] == "short-check"
        # touch targets: every button at least 44 CSS pixels tall (the usual guidance)
        heights = driver.execute_script(
            "return Array.from(document.querySelectorAll('button')).filter(function (b) {"
            " return b.offsetParent !== null; }).map(function (b) { return b.getBoundingClientRect().height; });")
        assert len(heights) > 12 and min(heights) >= 44, heights


def test_the_page_follows_a_dark_system_setting(idle):
    with chromium() as driver:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        driver.get(pairing_address(idle))
        until(driver, lambda d: text(d, "conn") == "Connected")
        background = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        foreground = driver.execute_script("return getComputedStyle(document.body).color")
        luminance = lambda css: sum(int(v) for v in re.findall(r"\d+", css)[:3]) / 3  # noqa: E731
        assert luminance(background) < 60 < 180 < luminance(foreground), (background, foreground)
        screenshot(driver, "phone-dark")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
        background = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert luminance(background) > 200


# -- issue 19: the page tells the same truth, calmly -------------------------------------------

GROWING = """\
title: Growing words
steps:
  - section: One
  - say: Short.
    pause: 4s
  - say: >-
      Now a much longer sentence, so that the box of spoken words grows by several lines on a
      phone held upright: notice the weight of your hands, the floor under your feet, the air
      moving in and out, and the small sounds of the room around you, without changing any of it.
    pause: 6s
"""

BREATHING = """\
title: Breathing pace
steps:
  - say: Breathe.
  - breathe: {inhale: 2s, exhale: 3s, cycles: 4}
"""

LONG_TITLE = """\
title: An exercise with a very long title that keeps going well past the width of any phone screen
steps:
  - say: Hello.
"""


def add_script(station: Station, ident: str, text: str) -> None:
    (station.config_home / "voiceguide" / "scripts" / f"{ident}.yaml").write_text(text)


def position(driver, element_id: str) -> float:
    """Where an element is on the page (not the viewport): what a thumb finds again."""
    return driver.execute_script(
        "var r = document.getElementById(arguments[0]).getBoundingClientRect(); return r.top + window.scrollY;",
        element_id)


def test_the_controls_stay_where_the_thumb_left_them_and_errors_are_shown(idle):
    from selenium.webdriver.common.by import By

    add_script(idle, "growing-words", GROWING)
    with chromium() as driver:
        driver.get(pairing_address(idle))
        until(driver, lambda d: text(d, "conn") == "Connected")
        idle.api("POST", "/api/play", {"id": "growing-words"})
        until(driver, lambda d: text(d, "now-text") == "Short.")
        controls = ("btn-toggle", "btn-back", "btn-next", "btn-stop", "vol-down")
        before = {c: position(driver, c) for c in controls}
        short_height = driver.find_element(By.ID, "now-text").size["height"]
        # the long sentence's words grow the box (its first caption may be its first clause alone: Piper
        # speaks that first, and the rest's captions follow it)
        until(driver, lambda d: text(d, "now-text").startswith("Now a much longer"))
        until(driver, lambda d: d.find_element(By.ID, "now-text").size["height"] > short_height + 40)
        assert set(text(driver, "now-text").split()) <= set(" ".join(GROWING.split()).split())
        assert {c: position(driver, c) for c in controls} == before
        screenshot(driver, "phone-long-words")

        # a refused request is shown, and showing it moves nothing either
        driver.find_element(By.ID, "ex-length").send_keys("soon")
        click(driver, '[aria-label="Start Short check"]')
        until(driver, lambda d: d.find_element(By.ID, "alert").is_displayed())
        assert "length" in text(driver, "alert-text")
        assert {c: position(driver, c) for c in controls} == before
        click(driver, "#alert-close")
        assert not driver.find_element(By.ID, "alert").is_displayed()

        # a session that failed, asked for elsewhere: the page says why
        idle.api("POST", "/api/stop")
        until(driver, lambda d: text(d, "now-title") == "Nothing is playing")
        status, _ = idle.request("POST", "/api/play", {"id": "broken"})
        assert status == 422
        until(driver, lambda d: d.find_element(By.ID, "now-error").is_displayed())
        assert "broken.yaml:4" in text(driver, "now-error")
        assert text(driver, "now-title") == "Nothing is playing"   # no phantom session
        screenshot(driver, "phone-error")
        # the next session clears it
        idle.api("POST", "/api/play", {"id": "short-check"})
        until(driver, lambda d: not d.find_element(By.ID, "now-error").is_displayed())
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert [e for e in severe if "/api/play" not in e["message"]] == []   # the 400 asked for above


def test_the_breathing_step_shows_its_phase_and_paces_gently(idle):
    from selenium.webdriver.common.by import By

    add_script(idle, "breathing-pace", BREATHING)
    with chromium() as driver:
        driver.get(pairing_address(idle))
        until(driver, lambda d: text(d, "conn") == "Connected")
        idle.api("POST", "/api/play", {"id": "breathing-pace"})
        until(driver, lambda d: d.find_element(By.ID, "breath").is_displayed(), timeout=30)
        seen, sizes = set(), set()
        ring = driver.find_element(By.ID, "breath-ring")
        for _ in range(60):                         # 6 s: more than one whole breath
            seen.add((text(driver, "breath-phase"), text(driver, "breath-count")))
            sizes.add(ring.get_attribute("data-size"))
            time.sleep(0.1)
        phases = {p for p, _ in seen}
        assert {"Breathe in", "Breathe out"} <= phases, seen
        assert any(c.endswith(" of 4") for _, c in seen), seen
        assert sizes == {"large", "small"}
        assert "(breathing:" not in text(driver, "now")           # the pattern's words give way to the phase
        duration = driver.execute_script("return getComputedStyle(arguments[0]).transitionDuration", ring)
        assert duration != "0s"
        screenshot(driver, "phone-breathing")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
        assert driver.execute_script("return getComputedStyle(arguments[0]).transitionDuration", ring) == "0s"
        assert text(driver, "breath-phase") in ("Breathe in", "Hold", "Breathe out", "Done")


def test_a_long_schedule_label_keeps_remove_inside_its_button_and_the_list_is_compact(idle):
    from selenium.webdriver.common.by import By

    add_script(idle, "long-title", LONG_TITLE)
    idle.api("POST", "/api/schedules", {"id": "long-title", "at": "06:15"})
    try:
        with chromium() as driver:
            driver.get(pairing_address(idle))
            # measured in one script, the button looked up there: the list is drawn again whenever
            # the schedules change, and an element found before that is gone (stale)
            fits = until(driver, lambda d: d.execute_script("""
                var b = document.querySelector('#schedule-list button');
                if (!b) return null;
                var li = b.closest('li'), r = b.getBoundingClientRect(), l = li.getBoundingClientRect();
                return {overflow: b.scrollWidth > b.clientWidth, inside: r.right <= l.right + 0.5,
                        oneLine: r.height < 60, width: r.width};"""))
            assert not fits["overflow"] and fits["inside"] and fits["oneLine"], fits
            # one length field for the whole list, and a row per exercise rather than a screen
            until(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#exercise-list > li")) > 5)
            rows = driver.find_elements(By.CSS_SELECTOR, "#exercise-list > li")
            height = driver.find_element(By.ID, "exercise-list").size["height"]
            assert height / len(rows) < 125, (height, len(rows))   # 114 with Download beside Start (issue 21)
            assert len(driver.find_elements(By.CSS_SELECTOR, 'input[name="length"]')) == 1
            # every length as list writes it: m:ss, ~ only for an estimate
            lengths = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".ex-length-text")]
            assert lengths and all(re.fullmatch(r"~?\d+:\d\d", t) for t in lengths), lengths
            driver.set_window_size(PHONE[0], 3000)
            screenshot(driver, "phone-long-schedule")
    finally:
        idle.api("POST", "/api/schedules/remove", {"name": "long-title-0615"})


def test_the_unpaired_page_has_the_same_calm_look(idle):
    origin = f"http://127.0.0.1:{idle.port}"
    with chromium() as driver:
        for address in (origin + "/", origin + "/?token=not-the-token"):
            driver.get(address)
            until(driver, lambda d: d.find_elements("css selector", "h1"))
            font = driver.execute_script("return getComputedStyle(document.body).fontFamily")
            background = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
            assert "system-ui" in font and background == "rgb(244, 242, 236)", (font, background)
            assert "voiceguide station --pairing" in driver.find_element("css selector", "main").text
            # its inline style is allowed by its own policy: nothing refused in the console
            assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
                    and "401" not in e["message"]] == []
        screenshot(driver, "phone-unpaired")


def test_a_start_delay_chosen_on_the_page_counts_down_pauses_and_stops(idle):
    """Issue 23: the start form's delay; the real station says starting, the page counts, pause holds it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with chromium() as driver:
        driver.get(pairing_address(idle))
        until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#exercise-list li[data-id="short-check"]'))
        Select(driver.find_element(By.ID, "ex-delay")).select_by_value("30s")
        click(driver, '[aria-label="Start Short check"]')
        until(driver, lambda d: text(d, "now-title") == "Short check")
        state = idle.api("GET", "/api/state")
        assert state["state"] == "starting" and 25 <= state["starts_in"] <= 30, state
        until(driver, lambda d: re.fullmatch(r"Starts in 0:(2\d|30)", text(d, "now-state")))
        first = text(driver, "now-state")
        until(driver, lambda d: text(d, "now-state") != first, timeout=5)   # the page counts down
        assert driver.find_element(By.ID, "btn-toggle").is_enabled()

        click(driver, "#btn-toggle")                                        # pause holds the count
        until(driver, lambda d: text(d, "btn-toggle") == "Resume")
        held = idle.api("GET", "/api/state")
        assert held["state"] == "paused" and held["starts_in"] is not None
        time.sleep(1.5)
        assert idle.api("GET", "/api/state")["starts_in"] == held["starts_in"]
        assert text(driver, "now-state").startswith("Paused · Starts in")
        screenshot(driver, "phone-starting-paused")

        click(driver, "#btn-stop")                                          # stop: it never begins
        until(driver, lambda d: text(d, "now-title") == "Nothing is playing")
        assert idle.api("GET", "/api/state")["state"] == "idle"
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []


def test_an_exercise_with_music_offers_the_folders_pieces_or_says_what_to_do(idle, pulse, tmp_path):
    """Issue 19: Start for a music step only with a piece to choose; without a music folder, a calm line."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from tests.station.test_music import music_station_config
    from tests.support.axe import serious_findings

    row = '#exercise-list li[data-id="music-listening"]'
    with chromium() as driver:                      # the module's station has no music folder
        driver.get(pairing_address(idle))
        until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, row))
        item = driver.find_element(By.CSS_SELECTOR, row)
        assert "needs music: set music_folder on the station" in item.text
        assert item.find_elements(By.CSS_SELECTOR, "button, select") == []

    config = music_station_config(tmp_path)
    with Station(dict(pulse.env, XDG_CONFIG_HOME=str(config)), tmp_path, "--listen",
                 f"127.0.0.1:{free_port()}") as station, chromium() as driver:
        driver.get(pairing_address(station))
        row = '#exercise-list li[data-id="music-check"]'
        until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"{row} select"))
        until(driver, lambda d: text(d, "conn") == "Connected")
        select = Select(driver.find_element(By.CSS_SELECTOR, f"{row} select"))
        assert [o.get_attribute("value") for o in select.options] == ["calm piece.wav"]
        assert select.options[0].text == "calm piece (0:04)"
        assert driver.find_element(By.CSS_SELECTOR, f"{row} select").get_attribute("aria-label") == \
            "Music for Music check"
        assert serious_findings(driver) == []
        click(driver, '[aria-label="Start Music check with the chosen music"]')
        until(driver, lambda d: text(d, "now-title") == "Music check")
        assert station.api("GET", "/api/state")["exercise"] == "music-check"
        screenshot(driver, "phone-music")
        station.api("POST", "/api/stop")
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
