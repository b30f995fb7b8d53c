"""The station's sessions land in the same practice log as `play`'s, while a terminal writes too.

A real `voiceguide station` process on a private PulseAudio sink, driven over
its socket; the log is read with `voiceguide log --json`, as a person would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.support.audio_env import PulseNullSink, alsa_file_home, base_env, voiceguide
from tests.support.station_env import SHORT, Station

pytestmark = [pytest.mark.audio, pytest.mark.slow]


@pytest.fixture()
def station(tmp_path):
    pulse = PulseNullSink(tmp_path).start()
    (tmp_path / "station").mkdir()
    s = Station(pulse.env, tmp_path / "station")
    yield s
    s.stop()
    pulse.stop()


def rows(env):
    result = voiceguide("log", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_rows(env, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = rows(env)
        if predicate(got):
            return got
        time.sleep(0.2)
    raise AssertionError(f"the log never showed it: {rows(env)}")


def test_station_sessions_are_logged_beside_a_terminal_session(station, tmp_path):
    env = station.env
    # completed, through the API
    station.api("POST", "/api/play", {"id": "short-check"})
    got = wait_rows(env, lambda r: r and r[0]["ended"] == "completed", timeout=40)
    (done,) = got
    assert (done["exercise"], done["title"], done["origin"]) == ("short-check", "Short check", "station:api")
    assert done["listened"] == pytest.approx(done["planned"], abs=1.5)

    # stopped part-way, while a terminal plays and notes a cue into the same log
    station.api("POST", "/api/play", {"id": "short-check"})
    station.wait_for(lambda s: s["section"] == "Two")
    home, _ = alsa_file_home(tmp_path / "terminal")
    terminal = dict(base_env(home), XDG_DATA_HOME=env["XDG_DATA_HOME"])
    script = tmp_path / "short.yaml"
    script.write_text(SHORT)
    played = subprocess.run([sys.executable, "-m", "voiceguide", "play", str(script)], env=terminal,
                            capture_output=True, text=True, timeout=120)
    assert played.returncode == 0, played.stderr
    assert voiceguide("cue", "warmth when the bell rang", env=terminal).returncode == 0
    station.api("POST", "/api/stop")
    got = wait_rows(env, lambda r: len(r) == 3 and all(x["ended"] != "interrupted" for x in r))
    by_origin = {r["origin"]: r for r in got[:2]}
    assert by_origin["play"]["ended"] == "completed"
    stopped = by_origin["station:api"]
    assert (stopped["ended"], stopped["section"]) == ("stopped", "Two")
    assert stopped["step"] == 4

    # a script that cannot start is an error row
    status, _ = station.request("POST", "/api/play", {"id": "broken"})
    assert status == 422
    got = wait_rows(env, lambda r: len(r) == 4)
    assert got[0]["ended"] == "error" and "broken.yaml:4:" in got[0]["message"]
    cues = json.loads(voiceguide("cues", "--json", env=env).stdout)
    assert [c["text"] for c in cues] == ["warmth when the bell rang"]
    assert "practice log" not in station.log()


def test_skipped_steps_are_not_logged_as_listened(station):
    """Issue 19: the log says what was heard (frames played), not where the session got to."""
    env = station.env
    station.api("POST", "/api/play", {"id": "short-check", "length": "40s"})
    station.wait_for(lambda s: s["state"] == "playing" and s["elapsed"] >= 0.5)
    started = time.monotonic()
    for _ in range(3):
        station.api("POST", "/api/next")
        time.sleep(0.3)
    position = station.api("GET", "/api/state")["elapsed"]
    time.sleep(1.0)
    station.api("POST", "/api/stop")
    heard_for = time.monotonic() - started + 0.5
    got = wait_rows(env, lambda r: r and r[0]["ended"] == "stopped")
    listened = got[0]["listened"]
    assert position > heard_for + 3, "the skips moved the session well ahead of the time it played"
    assert listened < heard_for + 1.5, (listened, heard_for, position)
