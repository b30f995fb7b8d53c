"""The station: idle CPU and memory, a press or an API call to the first sound, API round trips.

``voiceguide station --listen 127.0.0.1:0 --no-gpio`` runs on a private
PulseAudio null sink (``PulseNullSink`` from ``tests/support/audio_env.py``)
with private config and state folders and a private speech cache, warmed by
one session first. Figures:

* **idle CPU**: utime + stime of the station process from /proc over
  ``--seconds`` (60) of idleness, after its start-up preparation finished,
  as % of one core. Target <= 0.5% here (about 5% of a Pi Zero 2 W core).
* **idle memory**: VmRSS of the station process (and its private part,
  RssAnon) once its start-up preparation is done, and again after a
  session and the idle period (the speech workers have exited); and once
  more with ALSA's plugin configuration left out, as on Pi OS Lite, where
  libasound2-plugins (libpulse, libavcodec, libjack...) is not installed but
  here is loaded into every process that starts PortAudio. Target <= 60 MB.
* **API call to first sound**: ``POST /api/play`` of a short exercise
  (a drone bed and speech), warm cache, from an idle station; the station logs
  ``first sound X s after the request`` (the
  time its first audible sample leaves the device buffer, from
  ``LiveOutput.first_audible``), 5 runs. Target <= 300 ms.
* **button press to first sound**: in this process, a controller with its
  GPIO on gpiozero's mock pins (``GPIOZERO_PIN_FACTORY=mock``) plays on the
  same sink (PortAudio's ``pulse`` device); a press of pin 17 when idle
  starts the default exercise with the acknowledging chime, whose first
  audible sample is timed from the press. 5 runs. Target <= 300 ms.
* **API round trip** of ``GET /api/state``: a new connection each time (as
  ``ctl`` makes one), and one kept-alive connection; 200 each. Target <= 10 ms.
* **ctl status**: wall time of the whole ``voiceguide ctl status`` process.

Exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
TARGETS = {"cpu": 0.5, "rss": 60.0, "first": 0.300, "rtt": 0.010}
FIRST = re.compile(r"first sound ([0-9.]+) s after the request")
#: A stopped session fades out, pads and drains the device buffer (about 1.5 s
#: here) before the next can open the device: each timed run starts from idle.
SETTLE = 3.0

SHORT = """\
title: Benchmark probe
ambient:
  - drone: A2
    level: -30 dB
steps:
  - say: This is the first step of a short probe. You may stop at any time.
    pause: 2s
  - say: And this is the second.
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_mb(pid: int) -> dict:
    """VmRSS and its private part (RssAnon), in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "RssAnon:")):
            found[line.split(":")[0]] = int(line.split()[1]) / 1024
    return found


def memory_row(label: str, pid: int) -> tuple:
    m = memory_mb(pid)
    return (label, f"{m['VmRSS']:.1f} MB ({m['RssAnon']:.1f} MB private)", f"<= {TARGETS['rss']:g} MB",
            benchlib.verdict(m["VmRSS"] <= TARGETS["rss"]))


class Api:
    def __init__(self, port: int, token: str):
        self.port, self.token = port, token

    def call(self, method, path, body=None, conn=None):
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        headers = {"Authorization": f"Bearer {self.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = json.loads(response.read() or b"null")
        if own:
            conn.close()
        return response.status, data


def wait_idle(api: Api, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.call("GET", "/api/state")[1]["state"] == "idle":
            return
        time.sleep(0.1)


def station_figures(args, tmp: Path, pulse, results):
    env = dict(pulse.env, XDG_STATE_HOME=str(tmp / "state"), XDG_CONFIG_HOME=str(tmp / "config"),
               XDG_CACHE_HOME=str(tmp / "cache"), PYTHONUNBUFFERED="1")
    env.pop("VOICEGUIDE_STATION_TOKEN", None)
    scripts = tmp / "config" / "voiceguide" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "probe.yaml").write_text(SHORT)
    log_path = tmp / "station.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*benchlib.voiceguide_cmd(), "station", "--listen", "127.0.0.1:0", "--no-gpio",
                                 "--exercise", "probe"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        where = tmp / "state" / "voiceguide" / "station.json"
        while not where.exists():
            if proc.poll() is not None:
                raise SystemExit(f"the station did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        port = json.loads(where.read_text())["port"]
        token = (tmp / "config" / "voiceguide" / "station-token").read_text().strip()
        api = Api(port, token)
        while "prepared probe" not in log_path.read_text():  # the cache is warm now
            time.sleep(0.1)
        time.sleep(2.0)
        results.append(memory_row("idle RSS, before any session", proc.pid))
        api.call("POST", "/api/play", {"id": "probe"})     # one untimed session: imports, loops
        time.sleep(2.0)
        api.call("POST", "/api/stop")
        wait_idle(api)
        time.sleep(3.0)

        print(f"idle for {args.seconds:g} s ...", flush=True)
        before, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.seconds)
        cpu = 100 * (cpu_seconds(proc.pid) - before) / (time.monotonic() - t0)
        results.append(("idle CPU", f"{cpu:.3f}% of a core", f"<= {TARGETS['cpu']}%",
                        benchlib.verdict(cpu <= TARGETS["cpu"])))
        results.append(memory_row("idle RSS, after a session", proc.pid))

        firsts = []
        for _ in range(args.runs):
            seen = len(FIRST.findall(log_path.read_text()))
            api.call("POST", "/api/play", {"id": "probe"})
            deadline = time.monotonic() + 20
            while len(found := FIRST.findall(log_path.read_text())) == seen and time.monotonic() < deadline:
                time.sleep(0.05)
            if len(found) > seen:
                firsts.append(float(found[-1]))
            time.sleep(0.5)
            api.call("POST", "/api/stop")
            wait_idle(api)
            time.sleep(SETTLE)
        if firsts:
            med = statistics.median(firsts)
            results.append(("API play -> first sound", f"median {med * 1000:.0f} ms, worst "
                            f"{max(firsts) * 1000:.0f} ms ({len(firsts)} runs)", "<= 300 ms",
                            benchlib.verdict(med <= TARGETS["first"])))

        fresh = []
        for _ in range(200):
            t = time.perf_counter()
            api.call("GET", "/api/state")
            fresh.append(time.perf_counter() - t)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        kept = []
        for _ in range(200):
            t = time.perf_counter()
            api.call("GET", "/api/state", conn=conn)
            kept.append(time.perf_counter() - t)
        conn.close()
        for name, values in (("new connection", fresh), ("kept alive", kept)):
            values.sort()
            med, p95 = statistics.median(values), values[int(0.95 * len(values))]
            results.append((f"GET /api/state, {name}", f"median {med * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms",
                            "<= 10 ms", benchlib.verdict(med <= TARGETS["rtt"])))
        walls = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run([*benchlib.voiceguide_cmd(), "ctl", "status"], env=env, capture_output=True, check=True)
            walls.append(time.perf_counter() - t)
        results.append(("`voiceguide ctl status` (process)", f"median {statistics.median(walls) * 1000:.0f} ms",
                        "", ""))
    finally:
        proc.terminate()
        proc.wait(20)


def session_memory(args, tmp: Path, pulse, results):
    """Idle memory after a built-in session with ambient loops, per voice (issue 24).

    A fresh station on a cache of its own (cold: it prepares ``acknowledge``,
    whose ambient loops are tens of MB while built), then 12 s of that
    session, a stop, 4 s of idleness: what the session left behind.
    """
    for voice in ("espeak", "piper:en_US-joe-medium"):
        home = tmp / f"mem-{voice.split(':')[0]}"
        env = dict(pulse.env, XDG_STATE_HOME=str(home / "state"), XDG_CONFIG_HOME=str(home / "config"),
                   XDG_CACHE_HOME=str(home / "cache"), PYTHONUNBUFFERED="1", VOICEGUIDE_VOICE=voice)
        env.pop("VOICEGUIDE_STATION_TOKEN", None)
        home.mkdir()
        log_path = home / "station.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen([*benchlib.voiceguide_cmd(), "station", "--listen", "127.0.0.1:0", "--no-gpio",
                                     "--exercise", "acknowledge"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            where = home / "state" / "voiceguide" / "station.json"
            while not where.exists():
                if proc.poll() is not None:
                    raise SystemExit(f"the station did not start:\n{log_path.read_text()}")
                time.sleep(0.05)
            api = Api(json.loads(where.read_text())["port"],
                      (home / "config" / "voiceguide" / "station-token").read_text().strip())
            deadline = time.monotonic() + 120
            while "prepared acknowledge" not in log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(3.0)
            results.append(memory_row(f"idle RSS, {voice}, acknowledge prepared", proc.pid))
            api.call("POST", "/api/play", {"id": "acknowledge"})
            time.sleep(12.0)
            api.call("POST", "/api/stop", {})
            wait_idle(api)
            time.sleep(4.0)
            results.append(memory_row(f"idle RSS, {voice}, after 12 s of acknowledge", proc.pid))
        finally:
            proc.terminate()
            proc.wait(20)


def bare_alsa_memory(args, tmp: Path, results):
    """Idle memory as on Pi OS Lite, which has no ALSA plugin packages (pulse, jack, a52...).

    This machine's ALSA loads every plugin that libasound2-plugins configures
    in /etc/alsa/conf.d (libpulse, libavcodec, libjack...) into any process
    that starts PortAudio. An ``alsa.conf`` without that folder and a ``null``
    default device show the station's own footprint.
    """
    bare = tmp / "bare"
    home = bare / "home"
    home.mkdir(parents=True)
    (home / ".asoundrc").write_text('pcm.!default { type plug slave { pcm "null" } }\n')
    conf = Path("/usr/share/alsa/alsa.conf")
    if not conf.exists():
        return
    (bare / "alsa.conf").write_text(conf.read_text().replace('"/etc/alsa/conf.d"', ""))
    env = dict(os.environ, HOME=str(home), ALSA_CONFIG_PATH=str(bare / "alsa.conf"),
               XDG_STATE_HOME=str(bare / "state"), XDG_CONFIG_HOME=str(tmp / "config"),
               XDG_CACHE_HOME=str(tmp / "cache"), PYTHONUNBUFFERED="1")
    env.pop("PULSE_SERVER", None)
    log_path = bare / "station.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*benchlib.voiceguide_cmd(), "station", "--listen", "127.0.0.1:0", "--no-gpio",
                                 "--exercise", "probe"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "prepared probe" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)
        results.append(memory_row("idle RSS, no ALSA plugins (as Pi OS Lite)", proc.pid))
    finally:
        proc.terminate()
        proc.wait(20)


def button_figures(args, tmp: Path, pulse, results):
    """A press of the mock button to the chime's first audible sample, in this process."""
    os.environ["PULSE_SERVER"] = f"unix:{pulse.socket}"
    os.environ["GPIOZERO_PIN_FACTORY"] = "mock"
    os.environ["GPIOZERO_MOCK_PIN_CLASS"] = "mockpwmpin"
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
    sys.path.insert(0, str(benchlib.ROOT))
    from voiceguide.sinks.live import start_portaudio, stop_portaudio

    stop_portaudio()   # started again with PULSE_SERVER set (the station's runner
    start_portaudio()  # stops it when idle and starts it for each press)
    from gpiozero import Device

    from voiceguide.station.controller import Controller, Playback
    from voiceguide.station.feedback import Feedback
    from voiceguide.station.gpio import attach
    from voiceguide.station.settings import StationSettings

    heard = []

    class Timed(Feedback):
        def chime(self, *a, **kw):
            at = super().chime(*a, **kw)
            heard.append(at)
            return at

    probe = tmp / "probe.yaml"
    probe.write_text(SHORT)
    controller = Controller(Playback(device="pulse"), default_exercise="probe", feedback=Timed(),
                            catalog=lambda: {"probe": probe})
    gpio = attach(controller, StationSettings())
    button = Device.pin_factory.pin(17)
    delays = []
    try:
        for _ in range(args.runs):
            count = len(heard)
            pressed = time.time()
            button.drive_low()
            time.sleep(0.05)
            button.drive_high()
            deadline = time.monotonic() + 10
            while len(heard) == count and time.monotonic() < deadline:
                time.sleep(0.01)
            if len(heard) > count and heard[-1] is not None:
                delays.append(heard[-1] - pressed)
            time.sleep(1.0)
            controller.stop()
            while controller.busy:
                time.sleep(0.05)
            time.sleep(SETTLE)
    finally:
        gpio.close()
        controller.close()
    if delays:
        med = statistics.median(delays)
        results.append(("button press (mock) -> chime", f"median {med * 1000:.0f} ms, worst "
                        f"{max(delays) * 1000:.0f} ms ({len(delays)} runs)", "<= 300 ms",
                        benchlib.verdict(med <= TARGETS["first"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="idle period measured (default 60)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    audio_env = benchlib.audio_env()
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pulse = audio_env.PulseNullSink(tmp).start()
        try:
            station_figures(args, tmp, pulse, results)
            session_memory(args, tmp, pulse, results)
            bare_alsa_memory(args, tmp, results)
            button_figures(args, tmp, pulse, results)
        finally:
            pulse.stop()
    print(benchlib.machine())
    print(benchlib.table(["figure", "measured", "target", ""], results))


if __name__ == "__main__":
    main()
