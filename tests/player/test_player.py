"""The player as a person uses it: keys on a terminal, headless logs, signals, errors.

Keys are typed into a real pseudo-terminal; the sound goes through PortAudio
into a private, real-time PulseAudio null sink whose monitor is recorded, so
"pause" is checked by listening: the sink holds silence while paused.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pexpect
import pytest
import soundfile as sf

from tests.support.audio_env import alsa_file_home, base_env, voiceguide
from tests.support.scripts import THREE_STEPS

pytestmark = pytest.mark.audio
SR = 48000

SESSION = "title: Player check\n" + THREE_STEPS + "  - bell: chime\n"


@pytest.fixture()
def script(tmp_path):
    path = tmp_path / "player-check.yaml"
    path.write_text(SESSION)
    return path


def spawn(args, env, **kw):
    return pexpect.spawn(sys.executable, ["-m", "voiceguide", *args], env=env, encoding="utf-8",
                         timeout=60, dimensions=(24, 100), **kw)


def silent_runs(x, floor=10 ** (-70 / 20), min_seconds=1.0):
    """(start, length) in seconds of stretches quieter than *floor*."""
    quiet = np.abs(x) < floor
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    runs = [(a / SR, (b - a) / SR) for a, b in zip(edges[::2], edges[1::2])]
    return [r for r in runs if r[1] >= min_seconds]


def test_space_pauses_the_sound_and_resumes_it(script, pulse, tmp_path):
    env = pulse.env
    pulse.record(tmp_path / "heard.wav")
    child = spawn(["play", str(script)], env)
    child.expect("space pause")
    time.sleep(3.0)
    child.send(" ")
    child.expect("paused")
    time.sleep(3.0)
    child.send(" ")
    child.expect("resumed")
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    time.sleep(0.3)
    pulse.stop_recording()
    assert child.exitstatus == 0, child.before
    heard, _ = sf.read(str(tmp_path / "heard.wav"), dtype="float64")
    # the ambient bed never stops by itself: a silent stretch of ~3 s is the pause
    runs = [r for r in silent_runs(heard) if 2.0 <= r[1] <= 4.0]
    assert runs, silent_runs(heard, min_seconds=0.3)


def test_n_skips_ahead_p_goes_back_and_q_quits(script, pulse, tmp_path):
    env = pulse.env
    started = time.monotonic()
    child = spawn(["play", str(script)], env)
    child.expect("space pause")
    time.sleep(1.5)
    child.send("n")
    child.expect(r"\[Two\]")
    child.send("\x1b[C")  # right arrow
    child.expect(r"\[Three\]")
    child.send("p")  # just after a step's start, back goes to the step before
    child.expect(r"\[Two\]")
    child.send("q")
    child.expect(pexpect.EOF, timeout=10)
    child.close()
    assert child.exitstatus == 0
    assert time.monotonic() - started < 10, "skipping shortened the session"


def test_the_terminal_is_restored_after_playing(script, tmp_path):
    home, _ = alsa_file_home(tmp_path)
    env = base_env(home)
    child = pexpect.spawn("/bin/sh", ["-c", f"stty -a; {sys.executable} -m voiceguide play {script} "
                                      f"--length 16s; stty -a"], env=env, encoding="utf-8", timeout=60)
    child.expect(pexpect.EOF)
    before, after = child.before.split("done", 1) if "done" in child.before else (child.before, "")
    assert " icanon" in before and " echo" in before
    assert " icanon" in after and " echo" in after, after[-400:]
    assert "-icanon" not in after


def test_headless_logs_plain_timestamped_lines(script, tmp_path):
    home, _ = alsa_file_home(tmp_path)
    result = voiceguide("play", str(script), env=base_env(home))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any("[Two] This is the second step." in line for line in lines)
    for line in lines:
        assert line[:4].isdigit() and line[10] == " " and line[13] == ":", line


def test_text_mode_prints_the_words_and_keeps_the_bell(script, tmp_path):
    home, wav = alsa_file_home(tmp_path)
    result = voiceguide("play", str(script), "--text", env=base_env(home))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["This is the first step. You may stop at any time.",
                                          "This is the second step.", "This is the third step."]
    played, _ = sf.read(str(wav), dtype="float32")
    assert np.max(np.abs(played)) > 0.05  # the chime (and the bed) still sound


def test_sigterm_fades_out_and_exits_0_within_a_second_and_a_half(script, pulse, tmp_path):
    status, err, took = pulse.play_and_signal(script, signal.SIGTERM, 3.5, tmp_path / "heard.wav")
    assert status == 0, err
    assert took < 1.5
    assert "Traceback" not in err
    heard, _ = sf.read(str(tmp_path / "heard.wav"), dtype="float64")
    loud = np.flatnonzero(np.abs(heard) > 10 ** (-60 / 20))
    end = loud[-1]

    def rms(a, b):
        return np.sqrt(np.mean(heard[end - int(a * SR):end - int(b * SR)] ** 2))

    # the level falls away over the last few hundred ms: a fade, not a cut
    assert rms(0.06, 0.0) < 0.3 * rms(0.6, 0.4)


def test_sighup_is_ignored_when_headless(script, tmp_path):
    home, _ = alsa_file_home(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "play", str(script), "--length", "60s"],
                            env=base_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "done" in err


def test_device_lost_mid_session_is_reopened_and_the_session_goes_on(script, pulse, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "play", str(script)], env=pulse.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    pulse.stop()          # the sound server goes away...
    time.sleep(0.5)
    pulse.start()         # ...and comes back
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "reopening the device" in err and "the device is back" in err
    assert "done" in err


def test_a_device_that_never_comes_back_is_a_clear_exit_1(script, pulse, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "play", str(script)], env=pulse.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    pulse.stop()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "could not be reopened after 3 tries" in err
    assert "Traceback" not in err


def test_unknown_device_names_the_devices_command(script, tmp_path):
    home, _ = alsa_file_home(tmp_path)
    result = voiceguide("play", str(script), "--device", "no-such-speaker", env=base_env(home))
    assert result.returncode == 1
    assert 'no output device matches; `voiceguide devices` lists them' in result.stderr


def test_devices_lists_outputs_with_their_rates(tmp_path):
    home, _ = alsa_file_home(tmp_path)
    result = voiceguide("devices", env=base_env(home))
    assert result.returncode == 0, result.stderr
    assert "default" in result.stdout and "48k" in result.stdout
    assert any(line.startswith("*") for line in result.stdout.splitlines())


def test_voices_lists_the_engine_voices_with_the_default_marked(tmp_path):
    result = voiceguide("voices", env=base_env(tmp_path))
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("\n\n")[0]   # a hint about the voices folder may follow
    header, *lines = table.splitlines()
    assert len(lines) > 10
    assert sum(line.startswith("*") for line in lines) == 1
    assert any(" en" in line for line in lines)
    # a header, and columns that line up under it (issue 13): each starts where its heading does
    headings = ["ENGINE", "ID", "LANGUAGE", "QUALITY", "SOURCE"]
    assert header.split() == headings
    for name in headings:
        at = header.index(name)
        for line in lines:
            assert line[at - 1] == " " and line[at] != " ", (name, line)


def test_no_output_device_points_to_devices_and_render(script, tmp_path):
    env = base_env(tmp_path / "no-sound-home")  # no .asoundrc, no sound server, no card
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "empty-runtime")
    env["PULSE_CLIENTCONFIG"] = str(tmp_path / "no-autospawn.conf")
    (tmp_path / "no-autospawn.conf").write_text("autospawn = no\n")
    (tmp_path / "empty-runtime").mkdir()
    listed = voiceguide("devices", env=env)
    if "*" in listed.stdout:
        pytest.skip("this machine has a real output device")
    result = voiceguide("play", str(script), env=env)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "no audio output device found; `voiceguide devices` lists what is available, "
        "and `voiceguide render ID -o session.wav` writes the session to a file instead")
    assert "Traceback" not in result.stderr
    assert listed.returncode == 1 and "no audio output device found" in listed.stderr


def test_minus_key_lowers_the_volume_two_db_a_press(pulse, tmp_path):
    bed = tmp_path / "bed.yaml"
    bed.write_text("title: Bed\nambient:\n  - noise: white\n    level: -20 dB\nsteps:\n  - pause: 16s\n")
    pulse.record(tmp_path / "heard.wav")
    child = spawn(["play", str(bed)], pulse.env)
    child.expect("space pause")
    time.sleep(6.0)  # the bed has faded in by 4 s
    child.send("-----")
    child.expect("volume -10 dB")
    time.sleep(4.0)
    child.send("q")
    child.expect(pexpect.EOF, timeout=10)
    time.sleep(0.3)
    pulse.stop_recording()
    heard, _ = sf.read(str(tmp_path / "heard.wav"), dtype="float64")
    loud = np.flatnonzero(np.abs(heard) > 10 ** (-60 / 20))
    start = loud[0]

    def level(a, b):
        seg = heard[start + int(a * SR):start + int(b * SR)]
        return 10 * np.log10(np.mean(seg ** 2))

    before, after = level(4.2, 5.2), level(8.0, 9.0)
    assert before - after == pytest.approx(10.0, abs=1.0)


def _screen(text, columns=100, rows=24):
    """The rows a person sees after *text* reached a terminal (pyte emulates it), blank ones at the end cut."""
    import pyte

    screen = pyte.Screen(columns, rows)
    pyte.Stream(screen).feed(text)
    shown = [row.rstrip() for row in screen.display]
    while shown and not shown[-1]:
        shown.pop()
    return shown


def test_the_screen_while_playing_keys_at_the_bottom_feedback_in_the_status_line(script, pulse, tmp_path):
    """Issue 13: the footer at the bottom; volume presses show in the status line and say the limit."""
    import io

    child = spawn(["play", str(script)], pulse.env)
    child.logfile_read = seen = io.StringIO()
    child.expect("space pause")
    time.sleep(1.0)
    child.send("+" * 8)
    child.expect("the loudest it goes")
    time.sleep(0.3)
    rows = _screen(seen.getvalue())
    assert rows[-1].startswith("space pause/resume"), rows
    assert "volume +12 dB (the loudest it goes)" in rows[-2] and "[One]" in rows[-2], rows
    assert not any("volume" in row for row in rows[:-2]), rows  # nothing piled up above
    child.send("q")
    child.expect(pexpect.EOF, timeout=10)
    child.close()
    assert child.exitstatus == 0
    rows = _screen(seen.getvalue())
    assert rows[-1] == "stopped; take your time" and not any("space pause" in row for row in rows), rows


def test_ctrl_c_ends_with_the_same_calm_words_as_q(script, pulse, tmp_path):
    child = spawn(["play", str(script)], pulse.env)
    child.expect("space pause")
    time.sleep(1.0)
    child.sendintr()
    child.expect(pexpect.EOF, timeout=10)
    child.close()
    assert child.exitstatus == 130
    assert child.before.rstrip().splitlines()[-1].strip() == "stopped; take your time", child.before
    assert "voiceguide: stopped" not in child.before
