"""``play --delay`` on a real terminal and a real-time device (issue 23).

Heard through a private PulseAudio null sink: the delay is silence, then the
chime, then the session; keys work during the count (space starts at once,
q quits before anything sounds); the practice log counts from the first sound.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pexpect
import pytest
import soundfile as sf

from tests.player.test_player import SR, spawn
from tests.support.audio_env import voiceguide
from tests.support.scripts import THREE_STEPS

pytestmark = [pytest.mark.audio, pytest.mark.slow]

SESSION = "title: Delay check\n" + THREE_STEPS


@pytest.fixture()
def script(tmp_path):
    path = tmp_path / "delay-check.yaml"
    path.write_text(SESSION)
    return path


def first_sound(x, floor=10 ** (-60 / 20)) -> float:
    loud = np.flatnonzero(np.abs(x) > floor)
    return loud[0] / SR if len(loud) else float("inf")


def test_the_delay_is_silence_with_a_count_then_a_chime_and_the_session(script, pulse, tmp_path):
    pulse.record(tmp_path / "heard.wav")
    recording_started = time.monotonic()
    child = spawn(["play", str(script), "--delay", "4s"], pulse.env)
    child.expect(r"starting in 0:0[34]")
    child.expect("space start now")          # the countdown's own keys
    child.expect(r"starting in 0:0[12]")
    child.expect("space pause", timeout=20)  # the session's keys: it has begun
    pressed_at = time.monotonic()
    child.send("q")
    child.expect(pexpect.EOF, timeout=20)
    child.close()
    time.sleep(0.3)
    pulse.stop_recording()
    assert child.exitstatus == 0, child.before
    heard, _ = sf.read(str(tmp_path / "heard.wav"), dtype="float64")
    onset = first_sound(heard)
    # nothing at all for (about) the four seconds, measured from the recording's start
    assert onset >= 3.0, f"sound {onset:.2f} s in, during the delay"
    assert onset <= pressed_at - recording_started + 1.0
    # the chime is heard first: a quiet bell, far under full scale, before the session's bed
    chime = heard[int(onset * SR): int((onset + 1.0) * SR)]
    assert 0.005 < np.max(np.abs(chime)) < 0.5


def test_space_starts_at_once_and_the_log_counts_from_the_first_sound(script, pulse, tmp_path):
    started = time.monotonic()
    child = spawn(["play", str(script), "--delay", "10m"], pulse.env)
    child.expect(r"starting in 10:00|starting in 9:5\d")
    time.sleep(1.0)
    child.send(" ")
    child.expect("space pause", timeout=20)
    child.expect(pexpect.EOF, timeout=60)   # the three short steps play to their end
    child.close()
    assert child.exitstatus == 0, child.before
    assert time.monotonic() - started < 60
    log = voiceguide("log", "--json", env=pulse.env)
    assert log.returncode == 0, log.stderr
    rows = [row for row in json.loads(log.stdout) if row["exercise"] == "delay-check"]
    assert len(rows) == 1, log.stdout
    # what was heard, not the wait: the session is well under the ten minutes asked to wait
    assert rows[0]["listened"] < 60


def test_q_during_the_count_quits_before_anything_sounds(script, pulse, tmp_path):
    pulse.record(tmp_path / "heard.wav")
    child = spawn(["play", str(script), "--delay", "30s"], pulse.env)
    child.expect("starting in")
    time.sleep(0.5)
    child.send("p")                           # p holds the count
    child.expect("paused")
    child.send("q")
    child.expect("stopped before it began")
    child.expect(pexpect.EOF, timeout=10)
    child.close()
    time.sleep(0.3)
    pulse.stop_recording()
    assert child.exitstatus == 0
    heard, _ = sf.read(str(tmp_path / "heard.wav"), dtype="float64")
    assert first_sound(heard) == float("inf")
