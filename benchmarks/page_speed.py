"""The phone page: its weight, the time to the exercise list, and how soon it shows a change.

A real ``voiceguide station`` (``tests/support/station_env.py``) plays into a
private PulseAudio null sink; Debian's headless Chromium opens the page
through Selenium at phone size, as in the page tests. Figures:

* **page weight**: the bytes of ``/``, ``/static/style.css`` and
  ``/static/app.js`` as served (uncompressed; the station does not
  compress), and what Chromium says it decoded for the whole load
  (the API answers included). Target <= 100 KB. Requests to anywhere but
  the station are counted from Chromium's network log: target none.
* **opening to the exercise list**: from the start of navigation
  (``performance.timeOrigin``) to the moment the first exercise is in the
  list, seen by a MutationObserver installed before any page script runs
  (``Page.addScriptToEvaluateOnNewDocument``). The first run opens the
  pairing address (a 303 and a cookie on the way), the others reload ``/``.
* **state change to page**: while a session plays, this process sends
  ``POST /api/pause`` or ``/api/resume`` (as ``ctl`` would, on its own
  connection) and the page's observer stamps the moment the Pause/Resume
  button's label changes, which it only does on news from the event stream.
  The delay is from just before the request is sent, so it includes the
  request itself: an upper bound for "a change in the station". Both
  clocks are this machine's wall clock. Target <= 200 ms.

Exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.audio_env()  # puts the checkout on sys.path for tests.support
from tests.support.audio_env import PulseNullSink  # noqa: E402
from tests.support.browser import chromium, requested_urls  # noqa: E402
from tests.support.station_env import Station  # noqa: E402

TARGETS = {"weight": 100 * 1024, "delay": 0.200}

OBSERVER = """
window.__bench = {list: null, toggles: []};
new MutationObserver(function () {
  var b = window.__bench;
  if (b.list === null && document.querySelector('#exercise-list li')) b.list = performance.now();
  var t = document.getElementById('btn-toggle');
  if (t && t.textContent !== b.label) {
    b.label = t.textContent;
    b.toggles.push([t.textContent, performance.timeOrigin + performance.now()]);
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


def fetch(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    data = conn.getresponse().read()
    conn.close()
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=10, help="page loads timed (default 10)")
    parser.add_argument("--changes", type=int, default=20, help="state changes timed (default 20)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="voiceguide-page-bench-") as tmp:
        tmp = Path(tmp)
        pulse = PulseNullSink(tmp / "pulse").start()
        env = dict(pulse.env, XDG_CONFIG_HOME=str(tmp / "config"), XDG_CACHE_HOME=str(tmp / "cache"),
                   XDG_DATA_HOME=str(tmp / "data"))
        station = Station(env, tmp)
        try:
            run(station, args)
        finally:
            station.stop()
            pulse.stop()


def run(station: Station, args) -> None:
    origin = f"http://127.0.0.1:{station.port}"
    files = {path: len(fetch(station.port, path)) for path in ("/", "/static/style.css", "/static/app.js")}
    weight = sum(files.values())
    done = subprocess.run(benchlib.voiceguide_cmd() + ["station", "--pairing"], env=station.env,
                          capture_output=True, text=True, check=True)
    pairing = re.search(r"http://\S+\?token=\S+", done.stdout).group(0)

    with chromium() as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": OBSERVER})
        to_list = []
        decoded = 0
        for i in range(args.loads):
            driver.get(pairing if i == 0 else origin + "/")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                at = driver.execute_script("return window.__bench && window.__bench.list")
                if at is not None:
                    break
                time.sleep(0.02)
            to_list.append(at / 1000.0)
            if i == 0:
                time.sleep(0.5)   # let the schedules and the log answer too
                decoded = driver.execute_script("""
                    var n = performance.getEntriesByType('navigation')[0].decodedBodySize;
                    performance.getEntriesByType('resource').forEach(function (r) { n += r.decodedBodySize; });
                    return n;""")
        urls = requested_urls(driver)
        external = [u for u in urls if re.match(r"(https?|wss?)://", u) and not u.startswith(origin + "/")]

        # a session long enough for every change, started by another client
        station.api("POST", "/api/play", {"id": "short-check", "length": "10m"})
        station.wait_for(lambda s: s["state"] == "playing" and s["text"])
        time.sleep(1.0)
        delays = []
        for i in range(args.changes):
            action, label = ("pause", "Resume") if i % 2 == 0 else ("resume", "Pause")
            seen = len(driver.execute_script("return window.__bench.toggles"))
            sent = time.time()
            station.api("POST", f"/api/{action}")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                toggles = driver.execute_script("return window.__bench.toggles")
                hits = [t for t in toggles[seen:] if t[0] == label]
                if hits:
                    delays.append(hits[0][1] / 1000.0 - sent)
                    break
                time.sleep(0.01)
            time.sleep(0.5)
        station.api("POST", "/api/stop")

    print(benchlib.table(["figure", "value", "target", ""], [
        ["page weight as served (/, css, js)",
         f"{weight / 1024:.1f} KB ({', '.join(f'{p} {n}' for p, n in files.items())} bytes)",
         "<= 100 KB", benchlib.verdict(weight <= TARGETS["weight"])],
        ["decoded by Chromium for the first load (API answers included)", f"{decoded / 1024:.1f} KB", "", ""],
        ["requests to anywhere but the station", str(len(external)), "0", benchlib.verdict(not external)],
        ["opening the pairing address to the exercise list", f"{to_list[0] * 1000:.0f} ms", "", ""],
        [f"reloading / to the exercise list, median of {len(to_list) - 1}",
         f"{statistics.median(to_list[1:]) * 1000:.0f} ms (worst {max(to_list[1:]) * 1000:.0f})", "", ""],
        [f"state change to page, median of {len(delays)} (pause/resume)",
         f"{statistics.median(delays) * 1000:.1f} ms (worst {max(delays) * 1000:.1f})",
         "<= 200 ms", benchlib.verdict(max(delays) <= TARGETS["delay"])],
    ]))
    if len(delays) < args.changes:
        print(f"({args.changes - len(delays)} changes were not seen within 5 s)")
    if external:
        print("external:", json.dumps(external[:5]))


if __name__ == "__main__":
    main()
