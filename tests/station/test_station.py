"""The station as a person and a program use it: a real process, a real socket, a real sink.

``voiceguide station`` runs in its own process on a free loopback port and
plays through PortAudio into a private PulseAudio null sink (real time),
whose monitor is recorded: pausing is checked by listening. Every request
goes over a real socket; ``ctl`` runs as its own process too.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from tests.support.audio_env import PulseNullSink
from tests.support.station_env import EventReader, Station

pytestmark = pytest.mark.audio
SR = 48000

ENDPOINTS = [("GET", "/api/state"), ("GET", "/api/exercises"), ("GET", "/api/events"),
             ("POST", "/api/play"), ("POST", "/api/pause"), ("POST", "/api/resume"), ("POST", "/api/toggle"),
             ("POST", "/api/next"), ("POST", "/api/back"), ("POST", "/api/stop"), ("POST", "/api/volume"),
             ("GET", "/api/schedules"), ("POST", "/api/schedules"), ("POST", "/api/schedules/remove"),
             ("GET", "/api/log"), ("GET", "/api/nothing-here")]


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    with PulseNullSink(tmp_path_factory.mktemp("station-pulse")) as sink:
        yield sink


@pytest.fixture(scope="module")
def station(pulse, tmp_path_factory):
    with Station(pulse.env, tmp_path_factory.mktemp("station")) as s:
        yield s


@pytest.fixture()
def idle(station):
    """The shared station, idle before and after the test."""
    yield station.idle()
    station.request("POST", "/api/stop")


def silent_runs(x, floor=10 ** (-70 / 20), min_seconds=1.0):
    quiet = np.abs(x) < floor
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    runs = [(a / SR, (b - a) / SR) for a, b in zip(edges[::2], edges[1::2])]
    return [r for r in runs if r[1] >= min_seconds]


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_every_request_needs_the_token(station, method, path):
    for token in (None, "not-the-token", station.token[:-1]):
        status, data = station.request(method, path, body={} if method == "POST" else None, token=token)
        assert status == 401, (method, path, token)
        assert isinstance(data, dict) and "Bearer" in data["error"] and "\n" not in data["error"]
        assert station.token not in json.dumps(data)
    # a good request clears this address's run of bad tokens, so the next
    # endpoint's wrong tokens are answered at once instead of slowed down
    assert station.request("GET", "/api/state")[0] == 200


def test_state_is_the_pinned_object(idle):
    state = idle.api("GET", "/api/state")
    assert {"state", "exercise", "title", "elapsed", "duration", "section", "text", "volume_db"} <= set(state)
    assert state["state"] == "idle" and state["exercise"] is None


def test_exercises_are_those_of_list(idle):
    import subprocess
    import sys

    listed = subprocess.run([sys.executable, "-m", "voiceguide", "list"], env=idle.env, capture_output=True,
                            text=True, timeout=60).stdout
    ids = [line.split()[0] for line in listed.splitlines()]
    exercises = idle.api("GET", "/api/exercises")
    assert [e["id"] for e in exercises] == [i for i in ids if i != "broken"]
    short = next(e for e in exercises if e["id"] == "short-check")
    assert short == {"id": "short-check", "title": "Short check", "duration": short["duration"],
                     "summary": "Three short steps for the station tests.",
                     "estimated": short["estimated"], "duration_text": short["duration_text"],
                     "needs_music": False}
    assert next(e for e in exercises if e["id"] == "music-listening")["needs_music"] is True
    assert 10 < short["duration"] < 20


@pytest.mark.parametrize("method, path, body, raw, status, words", [
    ("POST", "/api/play", {"id": "no-such-thing"}, None, 404, 'no exercise "no-such-thing"'),
    ("POST", "/api/play", {"id": "../../etc/passwd"}, None, 404, "no exercise"),
    ("POST", "/api/play", {"id": "short-check", "length": "soon"}, None, 400, "length"),
    ("POST", "/api/play", {}, None, 400, "which exercise"),
    ("POST", "/api/play", None, b"{not json", 400, "not JSON"),
    ("POST", "/api/play", None, b"[1, 2]", 400, "JSON object"),
    ("POST", "/api/play", None, b"{" + b" " * 20000 + b"}", 413, "larger than"),
    ("POST", "/api/volume", {"db": "loud"}, None, 400, "dB"),
    ("POST", "/api/volume", {}, None, 400, "dB"),
    ("POST", "/api/pause", {}, None, 409, "nothing is playing"),
    ("POST", "/api/next", {}, None, 409, "nothing is playing"),
    ("GET", "/api/play", None, None, 405, "Method Not Allowed"),
    ("GET", "/api/nothing-here", None, None, 404, "Not Found"),
    ("POST", "/api/schedules/remove", {"name": "../x"}, None, 400, "schedule name"),
])
def test_errors_are_json_with_one_line_for_a_person(idle, method, path, body, raw, status, words):
    got, data = idle.request(method, path, body=body, raw=raw)
    assert got == status, data
    assert isinstance(data, dict) and set(data) == {"error"}
    assert words in data["error"] and "\n" not in data["error"]
    assert idle.last_headers["content-type"] == "application/json"


def test_a_session_through_the_api_heard_and_streamed(idle, pulse, tmp_path):
    """Play, pause (heard as silence), resume, next, volume, stop; the event stream follows.

    The clips are made first (`voiceguide prepare`, as a person would before leaving a station
    to play): on a loaded machine a clip still being made after "next" is a silence of its own,
    which ran into the pause's (a CI run heard 6.0 s for a 3 s pause).
    """
    prepared = subprocess.run([sys.executable, "-m", "voiceguide", "prepare", "short-check"], env=idle.env,
                              capture_output=True, text=True, timeout=300)
    assert prepared.returncode == 0, prepared.stderr
    events = EventReader(idle)
    events.wait_for(lambda s: s["state"] == "idle")
    pulse.record(tmp_path / "heard.wav")
    state = idle.api("POST", "/api/play", {"id": "short-check"})
    assert (state["state"], state["exercise"], state["title"]) == ("playing", "short-check", "Short check")
    events.wait_for(lambda s: s["section"] == "One" and s["text"] and s["text"].startswith("This is the first"))
    time.sleep(1.0)
    assert idle.api("POST", "/api/pause")["state"] == "paused"
    events.wait_for(lambda s: s["state"] == "paused")
    time.sleep(3.0)
    assert idle.api("POST", "/api/resume")["state"] == "playing"
    idle.api("POST", "/api/next")
    events.wait_for(lambda s: s["section"] == "Two")
    assert idle.api("POST", "/api/volume", {"db": -4})["volume_db"] == -4.0
    events.wait_for(lambda s: s["volume_db"] == -4.0)
    idle.api("POST", "/api/volume", {"db": 4})
    assert idle.api("POST", "/api/stop")["state"] == "idle"
    events.wait_for(lambda s: s["state"] == "idle" and s["exercise"] is None and s is not events.states[0])
    time.sleep(2.0)
    pulse.stop_recording()
    events.close()
    kinds = [s["state"] for s in events.states]
    assert kinds[0] == "idle" and "playing" in kinds and "paused" in kinds and kinds[-1] == "idle"
    assert all(b != a for a, b in zip(events.states, events.states[1:])), "one event per change"
    assert events.lines[0].startswith("retry: ")
    heard, _ = sf.read(str(tmp_path / "heard.wav"), dtype="float64")
    runs = silent_runs(heard)
    assert any(2.0 <= length <= 4.5 for _, length in runs), runs  # the pause, between sound
    assert runs and runs[-1][0] + runs[-1][1] >= len(heard) / SR - 0.05  # and silence after stop


def test_play_while_playing_fades_into_the_new_session(idle):
    idle.api("POST", "/api/play", {"id": "short-check"})
    idle.wait_for(lambda s: s["section"] == "One")
    state = idle.api("POST", "/api/play", {"id": "short-check", "length": "30s"})
    assert state["state"] == "playing"
    state = idle.wait_for(lambda s: s["duration"] and s["duration"] >= 29, what="the 30 s session")
    assert abs(state["duration"] - 30) < 1.5


def test_ctl_controls_the_running_station(idle):
    status = idle.ctl("status")
    assert (status.returncode, status.stdout.strip()) == (0, "idle")
    played = idle.ctl("play", "short-check")
    assert played.returncode == 0 and played.stdout.startswith("playing  Short check  0:00 / "), played
    idle.wait_for(lambda s: s["section"] == "One")
    paused = idle.ctl("pause")
    assert paused.returncode == 0 and paused.stdout.startswith("paused  Short check")
    as_json = idle.ctl("--json", "status")
    assert json.loads(as_json.stdout)["state"] == "paused"
    assert json.loads(idle.ctl("status", "--json").stdout)["state"] == "paused"
    assert idle.ctl("volume", "-2").stdout.rstrip().endswith("volume -2 dB")
    assert idle.ctl("volume", "2").returncode == 0
    stopped = idle.ctl("stop")
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "idle")
    unknown = idle.ctl("play", "no-such-thing")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == ('voiceguide: station: no exercise "no-such-thing"; '
                                      "`voiceguide ctl list` lists them")   # ctl's words, not HTTP's
    idle_pause = idle.ctl("pause")
    assert idle_pause.returncode == 1 and "nothing is playing" in idle_pause.stderr
    wrong = idle.ctl("status", env=dict(idle.env, VOICEGUIDE_STATION_TOKEN="wrong"))
    assert wrong.returncode == 1 and "refused our token" in wrong.stderr
    listed = idle.ctl("list")
    assert "short-check" in listed.stdout and "Short check" in listed.stdout
    assert "Traceback" not in "".join(r.stderr for r in (status, played, paused, stopped, unknown, wrong))


def test_a_failing_session_is_announced_and_the_station_goes_on(idle, pulse, tmp_path):
    pulse.record(tmp_path / "heard.wav")
    status, data = idle.request("POST", "/api/play", {"id": "broken"})
    assert status == 422
    assert "broken.yaml:4:" in data["error"] and "pause" in data["error"]
    state = idle.wait_for(lambda s: s["state"] == "idle")
    assert "broken.yaml:4:" in state["error"]
    time.sleep(8.0)   # the chime and the words "That exercise could not be started..."
    pulse.stop_recording()
    heard, _ = sf.read(str(tmp_path / "heard.wav"), dtype="float64")
    assert np.sqrt(np.mean(heard ** 2)) > 10 ** (-50 / 20), "nothing was said"
    assert "That exercise could not be started; the log says why." in idle.log()
    # and it still plays what it can
    assert idle.api("POST", "/api/play", {"id": "short-check"})["state"] == "playing"
    state = idle.wait_for(lambda s: s["section"] == "One")
    assert state["error"] is None


def loud_runs(x, floor_db=-50.0, window=0.02, min_seconds=0.3):
    """(start, length) in seconds of the stretches louder than *floor_db* (RMS over *window*)."""
    n = int(window * SR)
    frames = x[:len(x) // n * n].reshape(-1, n)
    loud = np.sqrt(np.mean(frames ** 2, axis=1)) > 10 ** (floor_db / 20)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], loud.astype(np.int8), [0]))))
    runs = [(a * window, (b - a) * window) for a, b in zip(edges[::2], edges[1::2])]
    return [r for r in runs if r[1] >= min_seconds]


@pytest.mark.slow
def test_a_session_without_a_speech_engine_is_announced_and_the_station_goes_back_to_idle(tmp_path):
    """espeak-ng's library is there but cannot load (an empty libespeak-ng.so.1 first on the
    library path): the speech workers really fail. The words of the notice cannot be said
    either, so the station chimes twice; it stays up and idle."""
    pulse = PulseNullSink(tmp_path).start()
    try:
        broken = tmp_path / "broken-lib"
        broken.mkdir()
        (broken / "libespeak-ng.so.1").write_bytes(b"")
        # espeak-ng's voice: Piper, where installed, would not need the broken library
        env = dict(pulse.env, LD_LIBRARY_PATH=str(broken), XDG_CACHE_HOME=str(tmp_path / "empty-cache"),
                   VOICEGUIDE_VOICE="espeak:gmw/en-us")
        station = Station(env, tmp_path)
        pulse.record(tmp_path / "heard.wav")
        assert station.api("POST", "/api/play", {"id": "short-check"})["state"] == "playing"
        state = station.wait_for(lambda s: s["state"] == "idle", timeout=60, what="the failed session's end")
        assert "no speech engine" in state["error"] and "apt-get install espeak-ng" in state["error"]
        assert state["exercise"] is None
        deadline = time.monotonic() + 20
        while "chiming instead" not in station.log():
            assert time.monotonic() < deadline, station.log()[-3000:]
            time.sleep(0.1)
        time.sleep(4.0)  # two chimes of 1.1 s, and the device's buffer
        pulse.stop_recording()
        heard, _ = sf.read(str(tmp_path / "heard.wav"), dtype="float64")
        chimes = loud_runs(heard)
        assert len(chimes) == 2, chimes
        assert all(0.5 < length < 1.3 for _, length in chimes), chimes
        log = station.log()
        assert "session short-check failed: no speech engine" in log
        # what it meant to say (the bell may already have sounded when speech fails: "had to stop")
        assert ("That exercise could not be started; the log says why." in log
                or "The session had to stop; the log says why." in log)
        assert station.api("GET", "/api/state")["state"] == "idle"
        assert station.stop() == 0
        assert "Traceback" not in station.log()
    finally:
        pulse.stop()


def test_the_station_plays_through_a_child_that_ends_when_idle_and_never_loads_portaudio(idle):
    """PortAudio runs only while there is something to play, and in a child of the station: what
    ALSA's plugins pull in (libpulse, glib, libx265... some never unload) is never mapped in the
    station itself, and the child ends when the station goes idle (benchmarks/station.py: memory)."""
    from pathlib import Path

    def mapped(pid):
        try:
            return Path(f"/proc/{pid}/maps").read_text()
        except OSError:  # it ended meanwhile
            return ""

    def players():
        """The station's children that have ALSA's pulse plugin mapped (its speech workers do not)."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                ppid = int(Path(entry, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == idle.proc.pid and "libasound_module_pcm_pulse" in mapped(entry.name):
                found.append(int(entry.name))
        return found

    idle.api("POST", "/api/play", {"id": "short-check"})
    idle.wait_for(lambda s: s["section"] == "One")
    assert len(players()) == 1, "the session plays through ALSA's pulse plugin, in a child"
    assert "libportaudio" not in mapped(idle.proc.pid) and "libpulse" not in mapped(idle.proc.pid)
    idle.api("POST", "/api/stop")
    idle.wait_for(lambda s: s["state"] == "idle")
    deadline = time.monotonic() + 15
    while players():
        assert time.monotonic() < deadline, "the sound child outlived the session\n" + idle.log()[-1500:]
        time.sleep(0.1)
    assert idle.api("POST", "/api/play", {"id": "short-check"})["state"] == "playing"  # and it starts again
    idle.wait_for(lambda s: s["section"] == "One" and s["elapsed"] > 0.5)
    assert "libportaudio" not in mapped(idle.proc.pid)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_sigint_while_playing_fades_out_and_exits_0(tmp_path, sig):
    pulse = PulseNullSink(tmp_path).start()
    try:
        station = Station(pulse.env, tmp_path)
        pulse.record(tmp_path / "heard.wav")
        station.api("POST", "/api/play", {"id": "short-check"})
        station.wait_for(lambda s: s["section"] == "One" and s["elapsed"] >= 2.5)
        sent = time.monotonic()
        station.signal(sig)
        station.proc.wait(10)
        took = time.monotonic() - sent
        time.sleep(0.3)
        pulse.stop_recording()
        assert station.stop() == 0, station.log()
        assert took < 3.0
        assert "Traceback" not in station.log()
        assert not station.where.exists(), "the address file outlived the station"
        heard, _ = sf.read(str(tmp_path / "heard.wav"), dtype="float64")
        loud = np.flatnonzero(np.abs(heard) > 10 ** (-60 / 20))
        end = loud[-1]

        def rms(a, b):
            return np.sqrt(np.mean(heard[end - int(a * SR):end - int(b * SR)] ** 2))

        # a fade, not a cut: the last 60 ms are far under the sound before the fade began. Compared
        # with the loudest 100 ms of the second before it, not one fixed window: speech has quiet
        # gaps between words, and where the stop lands in a sentence depends on timing
        before = max(rms(a, a - 0.1) for a in np.arange(1.3, 0.35, -0.05))
        assert rms(0.06, 0.0) < 0.3 * before
    finally:
        pulse.stop()


@pytest.mark.slow
def test_a_device_lost_for_good_ends_the_session_not_the_station(tmp_path):
    pulse = PulseNullSink(tmp_path).start()
    try:
        station = Station(pulse.env, tmp_path)
        station.api("POST", "/api/play", {"id": "short-check", "length": "40s"})
        station.wait_for(lambda s: s["elapsed"] >= 1.5)
        pulse.stop()
        state = station.wait_for(lambda s: s["state"] == "idle", timeout=40)
        assert "could not be reopened after 3 tries" in state["error"]
        pulse.start()
        assert station.api("POST", "/api/play", {"id": "short-check"})["state"] == "playing"
        station.wait_for(lambda s: s["section"] == "One" and s["elapsed"] > 0.5)
        assert station.stop() == 0
        assert "session short-check failed" in station.log()
    finally:
        pulse.stop()


@pytest.mark.slow
def test_a_session_waits_for_a_sound_device_that_appears_later(tmp_path):
    """At boot a USB card may come after the station: the session waits for it, logging once."""
    pulse = PulseNullSink(tmp_path)       # not started yet: no device at all
    try:
        station = Station(pulse.env, tmp_path)
        state = station.api("POST", "/api/play", {"id": "short-check"})
        assert state["state"] == "playing"
        deadline = time.monotonic() + 20
        while "waiting up to 60 s for the sound device" not in station.log():
            assert time.monotonic() < deadline, station.log()
            time.sleep(0.1)
        time.sleep(2.0)
        pulse.start()
        station.wait_for(lambda s: s["section"] == "One", timeout=30)
        log = station.log()
        assert log.count("waiting up to") == 1 and "the sound device is there" in log
        assert station.stop() == 0
    finally:
        pulse.stop()


@pytest.mark.slow
def test_a_pause_sent_while_the_session_waits_for_its_device_is_kept(tmp_path):
    """A session that is still starting has no player yet: a pause then must not be lost.
    The device appears later (as at boot); the session opens it paused and stays silent."""
    pulse = PulseNullSink(tmp_path)       # not started yet: no device at all
    try:
        station = Station(pulse.env, tmp_path)
        assert station.api("POST", "/api/play", {"id": "short-check"})["state"] == "playing"
        assert station.api("POST", "/api/pause")["state"] == "paused"
        assert station.api("POST", "/api/toggle")["state"] == "playing"
        assert station.api("POST", "/api/toggle")["state"] == "paused"
        deadline = time.monotonic() + 20
        while "waiting up to 60 s for the sound device" not in station.log():
            assert time.monotonic() < deadline, station.log()
            time.sleep(0.1)
        pulse.start()
        pulse.record(tmp_path / "heard.wav")
        deadline = time.monotonic() + 30
        while "the sound device is there" not in station.log():
            assert time.monotonic() < deadline, station.log()
            time.sleep(0.1)
        time.sleep(3.0)
        state = station.api("GET", "/api/state")
        assert (state["state"], state["elapsed"], state["section"]) == ("paused", 0.0, None), state
        pulse.stop_recording()
        heard, _ = sf.read(str(tmp_path / "heard.wav"), dtype="float64")
        assert len(heard) > 2 * SR and np.abs(heard).max() < 10 ** (-70 / 20), "a paused session is silent"
        assert station.api("POST", "/api/resume")["state"] == "playing"
        station.wait_for(lambda s: s["section"] == "One" and s["elapsed"] > 0.5)
        assert station.stop() == 0
    finally:
        pulse.stop()


def test_schedules_through_the_api_write_units_and_prepare_the_exercise(idle):
    assert idle.api("GET", "/api/schedules") == []
    listed = idle.api("POST", "/api/schedules", {"id": "short-check", "at": "07:30", "days": ["mon", "tue", "wed",
                                                                                          "thu", "fri"]})
    assert [(s["name"], s["id"], s["at"], s["days"]) for s in listed] == [
        ("short-check-0730", "short-check", "07:30", ["mon", "tue", "wed", "thu", "fri"])]
    assert re.match(r"(Mon|Tue|Wed|Thu|Fri) \d{4}-\d\d-\d\d 07:30", listed[0]["next"])
    units = idle.config_home / "systemd" / "user"
    assert sorted(p.name for p in units.iterdir()) == ["voiceguide-short-check-0730.service",
                                                       "voiceguide-short-check-0730.timer"]
    deadline = time.monotonic() + 30
    while "prepared short-check" not in idle.log():
        assert time.monotonic() < deadline, idle.log()[-2000:]
        time.sleep(0.1)
    status, data = idle.request("POST", "/api/schedules", {"id": "short-check", "at": "7:30"})
    assert status == 400 and "exists already" in data["error"]
    status, data = idle.request("POST", "/api/schedules", {"id": "../short-check", "at": "7:30"})
    assert status == 404
    assert idle.api("POST", "/api/schedules/remove", {"name": "short-check-0730"}) == []
    assert not list(units.iterdir())


def test_a_schedules_service_asks_the_running_station_to_play(idle, tmp_path):
    """The command in the generated unit, run as systemd would run it."""
    import shlex
    import subprocess

    from voiceguide.station import systemd

    schedule = systemd.Schedule(name="probe", exercise="short-check", hour=7, minute=30, length="20s")
    exec_start = next(line for line in schedule.service_text().splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start[len("ExecStart="):])
    result = subprocess.run(argv, env=idle.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "asked the station at 127.0.0.1:" in result.stderr
    state = idle.wait_for(lambda s: s["state"] == "playing" and s["duration"])
    assert state["exercise"] == "short-check" and abs(state["duration"] - 20) < 1.5


def test_a_schedules_service_plays_by_itself_when_no_station_runs(tmp_path):
    import shlex
    import subprocess

    from tests.support.audio_env import alsa_file_home, base_env
    from tests.support.station_env import write_scripts
    from voiceguide.station import systemd

    home, wav = alsa_file_home(tmp_path)
    env = base_env(home)
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    write_scripts(tmp_path / "config")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    schedule = systemd.Schedule(name="probe", exercise="short-check", hour=7, minute=30)
    exec_start = next(line for line in schedule.service_text().splitlines() if line.startswith("ExecStart="))
    result = subprocess.run(shlex.split(exec_start[len("ExecStart="):]), env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "no station runs; playing short-check here" in result.stderr
    assert "[Three] This is the third step." in result.stderr
    assert sf.info(str(wav)).duration > 10
