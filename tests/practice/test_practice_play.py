"""Every `play` leaves one row in the practice log, whatever way it ends.

Real sessions through PortAudio: an unpaced ALSA file device for sessions
that run to their end, a private real-time PulseAudio sink for those stopped
part-way (SIGTERM, the q key, SIGKILL). The log is read back the way a
person would, with `voiceguide log --json`.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time

import pexpect
import pytest

from tests.support.audio_env import alsa_file_home, base_env, voiceguide

pytestmark = pytest.mark.audio

SESSION = """\
title: Log check
steps:
  - section: One
  - say: This is the first step. You may stop at any time.
    pause: 3s
  - section: Two
  - say: This is the second step.
    pause: 6s
  - section: Three
  - say: This is the third step.
    pause: 2s
  - bell: chime
"""


@pytest.fixture()
def script(tmp_path):
    path = tmp_path / "log-check.yaml"
    path.write_text(SESSION)
    return path


def sessions(env):
    result = voiceguide("log", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def db_path(env):
    return os.path.join(env["XDG_DATA_HOME"], "voiceguide", "practice.sqlite3")


def practice_warnings(stderr):
    return [line for line in stderr.splitlines() if "practice log" in line]


def test_a_completed_session(script, alsa_env):
    shown = json.loads(voiceguide("preview", str(script), "--json", env=alsa_env).stdout)
    result = voiceguide("play", str(script), env=alsa_env)
    assert result.returncode == 0, result.stderr
    assert practice_warnings(result.stderr) == []
    (row,) = sessions(alsa_env)
    assert (row["exercise"], row["title"], row["ended"], row["origin"]) == (
        "log-check", "Log check", "completed", "play")
    assert row["listened"] == pytest.approx(shown["duration"], abs=0.1)
    assert row["planned"] == pytest.approx(shown["duration"], abs=0.1)
    assert row["step"] is None and row["message"] is None
    assert stat.S_IMODE(os.stat(db_path(alsa_env)).st_mode) == 0o600
    table = voiceguide("log", env=alsa_env).stdout
    assert "Log check" in table and "completed" in table


def test_the_voice_and_text_mode_are_recorded(script, alsa_env):
    assert voiceguide("play", str(script), "--text", env=alsa_env).returncode == 0
    assert sessions(alsa_env)[0]["voice"] == "text"


def test_sigterm_records_a_stop_at_the_step_heard(script, pulse, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "play", str(script)], env=pulse.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    heard = []
    for line in proc.stderr:  # headless: one line per step, when it is heard
        heard.append(line)
        if "[Two]" in line:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    err = "".join(heard) + proc.stderr.read()
    assert proc.wait(10) == 0, err
    (row,) = sessions(pulse.env)
    assert row["ended"] == "stopped"
    assert (row["step"], row["section"]) == (4, "Two"), err   # step 4: "This is the second step."
    assert 5.0 < row["listened"] < 10.0   # the first step and a second of the next, give or take the fade


def test_the_q_key_records_a_stop(script, pulse):
    child = pexpect.spawn(sys.executable, ["-m", "voiceguide", "play", str(script)], env=pulse.env,
                          encoding="utf-8", timeout=60, dimensions=(24, 100))
    child.expect(r"\[Three\]", timeout=30)
    time.sleep(0.5)
    child.send("q")
    child.expect(pexpect.EOF, timeout=10)
    child.close()
    assert child.exitstatus == 0
    (row,) = sessions(pulse.env)
    assert (row["ended"], row["section"], row["step"]) == ("stopped", "Three", 6)


def test_a_failed_session_records_the_error(script, alsa_env, tmp_path):
    # The speech engine really fails mid-start: espeak-ng's library is there but
    # cannot load (an empty libespeak-ng.so.1 first on the library path).
    broken = tmp_path / "broken-lib"
    broken.mkdir()
    (broken / "libespeak-ng.so.1").write_bytes(b"")
    env = dict(alsa_env, LD_LIBRARY_PATH=str(broken), XDG_CACHE_HOME=str(tmp_path / "empty-cache"))
    result = voiceguide("play", str(script), "--voice", "espeak:gmw/en-us", env=env)
    assert result.returncode == 1, result.stderr
    (row,) = sessions(env)
    assert row["ended"] == "error"
    assert "no speech engine" in row["message"]
    assert "\n" not in row["message"]


def test_sigkill_leaves_an_interrupted_row_and_a_sound_database(script, pulse):
    proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "play", str(script)], env=pulse.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    rows = []
    while time.time() < deadline and not rows:
        time.sleep(0.2)
        if os.path.exists(db_path(pulse.env)):
            rows = sessions(pulse.env)
    assert rows and rows[0]["ended"] == "interrupted"   # the row is open while it plays
    assert "playing now" in voiceguide("log", env=pulse.env).stdout
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    (row,) = sessions(pulse.env)
    assert row["ended"] == "interrupted"
    table = voiceguide("log", env=pulse.env).stdout
    assert "interrupted" in table and "playing now" not in table
    conn = sqlite3.connect(db_path(pulse.env))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_unwritable_log_is_one_warning_and_the_session_goes_on(script, alsa_env, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be\n")
    alsa_env["XDG_DATA_HOME"] = str(blocker)
    result = voiceguide("play", str(script), env=alsa_env)
    assert result.returncode == 0, result.stderr
    assert "done" in result.stderr
    (warning,) = practice_warnings(result.stderr)
    assert "not written to the practice log" in warning and "not affected" in warning


def test_a_locked_log_is_one_warning_and_the_session_goes_on(script, alsa_env):
    assert voiceguide("cue", "first", env=alsa_env).returncode == 0  # the database exists
    holder = sqlite3.connect(db_path(alsa_env), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        began = time.monotonic()
        result = voiceguide("play", str(script), env=alsa_env)
        took = time.monotonic() - began
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 0, result.stderr
    assert "done" in result.stderr
    assert len(practice_warnings(result.stderr)) == 1
    assert took < 15, "an unpaced session of a few seconds, plus at most a few seconds waiting"


def test_a_station_and_a_terminal_writing_at_once_lose_nothing(script, tmp_path):
    envs = []
    for name in ("a", "b"):
        home, _ = alsa_file_home(tmp_path / name)
        env = base_env(home)
        env["XDG_DATA_HOME"] = str(tmp_path / "shared-data")
        envs.append(env)
    plays = [subprocess.Popen([sys.executable, "-m", "voiceguide", "play", str(script)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for env in envs]
    cues = [subprocess.Popen([sys.executable, "-m", "voiceguide", "cue", f"cue {i}"], env=envs[i % 2],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(6)]
    for proc in plays + cues:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert practice_warnings(err) == []
    assert [row["ended"] for row in sessions(envs[0])] == ["completed", "completed"]
    listed = json.loads(voiceguide("cues", "--json", env=envs[1]).stdout)
    assert sorted(c["text"] for c in listed) == [f"cue {i}" for i in range(6)]


def test_practice_log_false_records_nothing(script, alsa_env):
    config = os.path.join(alsa_env["XDG_CONFIG_HOME"], "voiceguide")
    os.makedirs(config)
    with open(os.path.join(config, "config.toml"), "w") as f:
        f.write("practice_log = false\n")
    assert voiceguide("play", str(script), env=alsa_env).returncode == 0
    assert not os.path.exists(db_path(alsa_env))
    assert voiceguide("log", env=alsa_env).stdout.startswith("No sessions yet")
