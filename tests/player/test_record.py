"""The record step in `play`: a real capture device hears a known tone, and a machine without one.

The "microphone" is a second null sink in a private PulseAudio server whose
monitor is the default source; `paplay` plays a 440 Hz tone into it while
`voiceguide play` runs, so PortAudio -> ALSA -> PulseAudio records a signal
we know. Without a microphone: an ALSA configuration whose default device
plays into PulseAudio (real time) but has no capture side, so PortAudio
finds no input device at all, as on a Raspberry Pi with only a speaker.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.support.audio_env import voiceguide

pytestmark = [pytest.mark.audio, pytest.mark.slow]
SR = 48000
TONE_HZ = 440.0

SCRIPT = """\
title: Record check
steps:
  - say: Hello. You may stop at any time.
  - record: {prompt: Say a word if you like., seconds: 5}
  - say: Thank you.
"""

NO_MICROPHONE = """\
pcm.!default {{
    type asym
    playback.pcm {{ type pulse; server "unix:{socket}" }}
    capture.pcm "no_microphone_here"
}}
pcm.!pulse {{
    type asym
    playback.pcm {{ type pulse; server "unix:{socket}" }}
    capture.pcm "no_microphone_here"
}}
ctl.!default {{ type pulse; server "unix:{socket}" }}
"""


@pytest.fixture()
def script(tmp_path):
    path = tmp_path / "record-check.yaml"
    path.write_text(SCRIPT)
    return path


def add_microphone(pulse):
    """A null sink called "mic" whose monitor is the default source (what PortAudio records)."""
    for args in (["load-module", "module-null-sink", "sink_name=mic", "rate=48000", "channels=1"],
                 ["set-default-source", "mic.monitor"]):
        subprocess.run(["pactl", *args], env=pulse.env, check=True, capture_output=True)


def speak_into_microphone(pulse, tmp_path):
    """Play a steady 440 Hz tone into the microphone for the whole test."""
    t = np.arange(SR * 60) / SR
    sf.write(str(tmp_path / "tone.wav"), (0.3 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32), SR)
    return subprocess.Popen(["paplay", "--device=mic", str(tmp_path / "tone.wav")], env=pulse.env)


def play(script, env):
    return subprocess.run([sys.executable, "-m", "voiceguide", "play", str(script)], env=env,
                          capture_output=True, text=True, timeout=120)


def play_hearing_a_tone(script, pulse, tmp_path):
    """``play`` the script while the steady tone sounds into the microphone."""
    tone = speak_into_microphone(pulse, tmp_path)
    try:
        return play(script, pulse.env)
    finally:
        tone.terminate()


def cues(env):
    return json.loads(voiceguide("cues", "--json", env=env).stdout)


def test_the_answer_is_recorded_from_the_input_device_and_kept_as_todays_cue(script, pulse, tmp_path):
    add_microphone(pulse)
    result = play_hearing_a_tone(script, pulse, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "your answer is kept as today's cue" in result.stderr
    (cue,) = cues(pulse.env)
    assert cue["exercise"] == "record-check" and cue["seconds"] == pytest.approx(5.0, abs=0.05)
    path = cue["recording"]
    assert path.endswith(".flac") and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    heard, rate = sf.read(path, dtype="float64")
    assert rate == SR and len(heard) / SR == pytest.approx(5.0, abs=0.05)
    # what was recorded is the tone (and not the session's own sound)
    spectrum = np.abs(np.fft.rfft(heard * np.hanning(len(heard))))
    peak = np.fft.rfftfreq(len(heard), 1 / SR)[np.argmax(spectrum)]
    assert peak == pytest.approx(TONE_HZ, abs=2.0)
    assert np.sqrt(np.mean(heard[SR:] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.2)
    listed = voiceguide("cues", env=pulse.env).stdout
    assert "(spoken, 0:05)" in listed and path in listed
    # forgetting removes the recording too
    forgot = voiceguide("log", "--forget", "--yes", env=pulse.env)
    assert "1 recording" in forgot.stdout and not os.path.exists(path)


def test_silence_is_not_kept(script, pulse):
    add_microphone(pulse)   # a microphone, but nobody speaks
    result = play(script, pulse.env)
    assert result.returncode == 0, result.stderr
    assert "nothing was said, and that is fine" in result.stderr
    assert cues(pulse.env) == []


def test_without_a_microphone_the_step_is_quiet_and_says_so_once(script, pulse):
    (pulse.home / ".asoundrc").write_text(NO_MICROPHONE.format(socket=pulse.socket))
    env = dict(pulse.env)
    env.pop("PULSE_SERVER")  # else ALSA's pulse hook makes pulse (with its monitor source) the default
    shown = json.loads(voiceguide("preview", str(script), "--json", env=env).stdout)
    result = play(script, env)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "no input device" in line]
    assert len(lines) == 1 and "pass in quiet, and nothing is recorded" in lines[0]
    assert "done" in result.stderr and "Traceback" not in result.stderr
    assert cues(env) == []
    (row,) = json.loads(voiceguide("log", "--json", env=env).stdout)
    assert row["ended"] == "completed"
    assert row["listened"] == pytest.approx(shown["duration"], abs=0.2)


def test_with_the_practice_log_off_nothing_is_recorded(script, pulse, tmp_path):
    add_microphone(pulse)
    config = os.path.join(pulse.env["XDG_CONFIG_HOME"], "voiceguide")
    os.makedirs(config, exist_ok=True)
    with open(os.path.join(config, "config.toml"), "w") as f:
        f.write("practice_log = false\n")
    result = play_hearing_a_tone(script, pulse, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "the practice log is off; nothing is recorded" in result.stderr
    data = os.path.join(pulse.env["XDG_DATA_HOME"], "voiceguide")
    assert not os.path.exists(data)


def test_render_and_preview_hold_a_silence_and_say_so(script, tmp_path):
    from tests.support.audio_env import base_env

    env = base_env(tmp_path)
    shown = voiceguide("preview", str(script), "--json", env=env)
    events = json.loads(shown.stdout)["events"]
    (record,) = [e for e in events if e["kind"] == "record"]
    assert record["end"] - record["start"] == pytest.approx(6.0, abs=1e-3)   # the tone's second + 5 s
    assert "only in `play`; in the preview it is 5 s of quiet" in shown.stderr
    out = tmp_path / "r.wav"
    rendered = voiceguide("render", str(script), "-o", str(out), env=env)
    assert "only in `play`; in the file it is 5 s of quiet" in rendered.stderr
    data, _ = sf.read(str(out), dtype="float64")
    tone = data[int(record["start"] * SR):int((record["start"] + 0.5) * SR)]
    quiet = data[int((record["start"] + 1.0) * SR):int(record["end"] * SR)]
    assert 0.05 < np.abs(tone).max() < 0.2     # a soft tone, then
    assert np.abs(quiet).max() == 0.0          # nothing at all while the answer would be recorded


def test_with_text_on_a_terminal_the_cue_is_typed_instead(script, pulse):
    import pexpect

    add_microphone(pulse)  # there is a microphone, but --text asks for typing instead
    child = pexpect.spawn(sys.executable, ["-m", "voiceguide", "play", str(script), "--text"], env=pulse.env,
                          encoding="utf-8", timeout=60, dimensions=(24, 100))
    child.expect("Say a word if you like.")
    child.expect("Type it in a few words and press Enter")
    child.sendline("a flicker of warmth at lunch")
    child.expect("kept as today's cue: a flicker of warmth at lunch")
    child.expect("Thank you.", timeout=10)     # the rest of the listening time is skipped
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 0
    (cue,) = cues(pulse.env)
    assert (cue["text"], cue["recording"], cue["exercise"]) == ("a flicker of warmth at lunch", None,
                                                                "record-check")
    # Enter alone: nothing is noted, and the session goes on
    child = pexpect.spawn(sys.executable, ["-m", "voiceguide", "play", str(script), "--text"], env=pulse.env,
                          encoding="utf-8", timeout=60, dimensions=(24, 100))
    child.expect("Type it in a few words")
    child.sendline("")
    child.expect("nothing noted, and that is fine")
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 0 and len(cues(pulse.env)) == 1


def test_a_stop_while_typing_ends_the_session_at_once(script, pulse):
    import signal
    import time

    import pexpect

    child = pexpect.spawn(sys.executable, ["-m", "voiceguide", "play", str(script), "--text"], env=pulse.env,
                          encoding="utf-8", timeout=60, dimensions=(24, 100))
    child.expect("Type it in a few words")
    sent = time.monotonic()
    child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF, timeout=10)
    child.close()
    assert time.monotonic() - sent < 3.0
    assert child.exitstatus == 0 and cues(pulse.env) == []
    (row,) = json.loads(voiceguide("log", "--json", env=pulse.env).stdout)
    assert row["ended"] == "stopped" and row["step"] == 2


#: The default device plays into PulseAudio and records from a file plugin whose input file the test
#: removes once PortAudio has listed it: the microphone that was there when the session started is gone
#: by the record step (unplugged), and opening it fails inside ALSA and PortAudio.
MICROPHONE_GONE = """\
pcm.!default {{
    type asym
    playback.pcm {{ type pulse; server "unix:{socket}" }}
    capture.pcm "gone"
}}
pcm.gone {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{mic}"
    format "raw"
}}
ctl.!default {{ type pulse; server "unix:{socket}" }}
"""

#: A line of play's own log (no terminal): a timestamp first.
LOG_LINE = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "


def _only_log_lines(stderr: str, about: str) -> str:
    """The one line that mentions *about*, after checking that stderr holds play's log lines and nothing else."""
    import re

    lines = [line for line in stderr.splitlines() if line.strip()]
    stray = [line for line in lines if not re.match(LOG_LINE, line)]
    assert stray == [], stderr  # no "ALSA lib ...", no "Expression '...' failed"
    (line,) = [line for line in lines if about in line]
    return line


def test_without_a_microphone_stderr_holds_one_line_about_it_and_no_alsa_noise(script, pulse):
    (pulse.home / ".asoundrc").write_text(NO_MICROPHONE.format(socket=pulse.socket))
    env = dict(pulse.env)
    env.pop("PULSE_SERVER")
    result = play(script, env)
    assert result.returncode == 0, result.stderr
    line = _only_log_lines(result.stderr, "input device")
    assert "no input device" in line and "nothing is recorded" in line


def test_a_microphone_gone_since_the_start_is_one_line_not_five_of_alsa(script, pulse, tmp_path):
    mic = tmp_path / "mic.raw"
    mic.write_bytes(bytes(96000))
    (pulse.home / ".asoundrc").write_text(MICROPHONE_GONE.format(socket=pulse.socket, mic=mic))
    env = dict(pulse.env)
    env.pop("PULSE_SERVER")
    proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "play", str(script)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in proc.stderr:  # "start:" comes once PortAudio has started and listed the microphone
            lines.append(line)
            if "start:" in line and mic.exists():
                mic.unlink()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = "".join(lines)
    assert proc.returncode == 0, stderr
    line = _only_log_lines(stderr, "could not be recorded")
    assert "the session goes on" in line and "PaErrorCode" not in line
    assert "done" in stderr and "Traceback" not in stderr
