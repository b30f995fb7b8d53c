"""Signals always work, early errors are never lost (issue 14), on the real parts.

"Hung" is made real with SIGSTOP: a stopped speech worker or sound server
answers nothing, as a wedged one does. Each test stands for a class of
faults: a mixer thread blocked on a clip that never comes, on a device
write that never returns; a render stopped half-way; the terminal after
Ctrl-\\ and after Ctrl-Z / fg; speech workers after their player is killed;
an error printed while PortAudio starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pexpect
import pytest

from tests.support.audio_env import alsa_file_home, base_env, voiceguide
from tests.support.processes import alive, freeze_workers_as_they_start, thaw, wait_for, workers

pytestmark = pytest.mark.audio

#: The issue's target, from the signal to the process's end.
STOP_WITHIN = 1.5


def long_script(tmp_path, words=None):
    """Three sections of speech over a bed; *words* (unique, so never cached) are spoken first."""
    path = tmp_path / "signals.yaml"
    first = words or "This is the first step. You may stop at any time."
    path.write_text("title: Signals\nambient:\n  - drone: A2\n    level: -30 dB\nsteps:\n"
                    f"  - section: One\n  - say: {first}\n    pause: 3s\n"
                    "  - section: Two\n  - say: This is the second step.\n    pause: 20s\n"
                    "  - section: Three\n  - say: This is the third step.\n    pause: 3s\n")
    return path


def unique_words():
    return "Notice the word " + " ".join(uuid.uuid4().hex[:8]) + " and let it go."


def popen_play(script, env, *extra):
    return subprocess.Popen([sys.executable, "-m", "voiceguide", "play", str(script), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def signal_and_time(proc, sig=signal.SIGTERM, timeout=15):
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"still running {timeout} s after the signal: {err[-800:]}") from None
    return time.monotonic() - sent, err


def test_sigterm_while_synthesis_hangs_ends_play_at_once_and_ends_its_workers(pulse, tmp_path):
    proc = popen_play(long_script(tmp_path, unique_words()), pulse.env)
    frozen = freeze_workers_as_they_start(proc.pid)
    assert frozen, "the first words are not cached, so a speech worker starts"
    try:
        time.sleep(1.5)
        took, err = signal_and_time(proc)
        assert proc.returncode == 0, err
        assert took < STOP_WITHIN, f"{took:.2f} s"
        assert "Traceback" not in err and "internal error" not in err
        # the workers do not outlive their player (SIGKILL ends a stopped process too)
        assert wait_for(lambda: not any(alive(pid) for pid in frozen), 2.0), "a worker outlived the player"
    finally:
        thaw(frozen)


def test_sigterm_while_the_sound_server_hangs_ends_play_at_once(pulse, tmp_path):
    proc = popen_play(long_script(tmp_path), pulse.env)
    time.sleep(3.0)
    os.kill(pulse.proc.pid, signal.SIGSTOP)   # writes now block once the buffer is full
    try:
        time.sleep(1.0)
        took, err = signal_and_time(proc)
        assert took < STOP_WITHIN, f"{took:.2f} s"
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    finally:
        os.kill(pulse.proc.pid, signal.SIGCONT)


def test_speech_workers_end_soon_after_their_player_is_killed(pulse, tmp_path):
    """SIGKILL leaves no one to close the workers: they notice that their parent is gone."""
    proc = popen_play(long_script(tmp_path, unique_words() + " " + unique_words()), pulse.env)
    found = wait_for(lambda: workers(proc.pid), 20.0)
    assert found
    time.sleep(0.5)
    proc.kill()
    proc.communicate()
    assert wait_for(lambda: not any(alive(pid) for pid in found), 3.0), "a worker outlived its player"


def size_of(path) -> int:
    """A file's size, 0 once it is gone: render's writability probe is made and removed at once."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def hidden_files(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_render_stopped_by_a_signal_leaves_no_temporary_file(tmp_path, sig):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "session.wav"
    proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "render", "body-scan", "--length", "90m",
                             "-o", str(target)], env=base_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    growing = wait_for(lambda: [p for p in out_dir.iterdir() if size_of(p) > 1_000_000], 60.0)
    assert growing, "the render writes into a temporary file beside the target"
    took, err = signal_and_time(proc, sig)
    assert proc.returncode == 128 + sig, err
    assert took < STOP_WITHIN, f"{took:.2f} s"
    assert list(out_dir.iterdir()) == [], "the temporary file is removed, no target is made"
    assert "Traceback" not in err and f"{target} was not written" in err


def test_a_stale_temporary_file_of_ours_is_removed_by_the_next_render(tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = out_dir / f".old.wav.{dead.pid}.k2j4x9.vgpart"     # what a SIGKILLed render leaves
    stale.write_bytes(b"RIFF" + bytes(1000))
    alive_one = out_dir / f".other.wav.{os.getpid()}.p7q1w3.vgpart"   # a render still running
    alive_one.write_bytes(b"RIFF")
    foreign = out_dir / ".someone-elses.tmp"
    foreign.write_bytes(b"x")
    script = tmp_path / "short.yaml"
    script.write_text("title: Short\nsteps:\n  - bell: chime\n  - pause: 2s\n")
    result = voiceguide("render", str(script), "-o", str(out_dir / "new.wav"), env=base_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    assert alive_one.exists() and foreign.exists()
    assert "removed 1 unfinished render" in result.stderr


def _stty_flags(text):
    return set(text.replace("\r", " ").replace("\n", " ").split())


def interactive_shell(env):
    """An interactive bash on a pseudo-terminal: job control and signal keys as a person has them."""
    child = pexpect.spawn("bash", ["--norc", "--noprofile", "-i"], env=dict(env, PS1="$ "), encoding="utf-8",
                          timeout=60, dimensions=(24, 100))
    child.expect_exact("$ ")
    return child


def test_ctrl_backslash_leaves_the_terminal_as_it_was(pulse, tmp_path):
    child = interactive_shell(pulse.env)
    child.sendline(f"{sys.executable} -m voiceguide play {long_script(tmp_path)}; echo EXIT=$?")
    child.expect("space pause")
    time.sleep(1.0)
    child.send("\x1c")   # Ctrl-\ : SIGQUIT
    child.expect(r"EXIT=(\d+)")
    assert int(child.match.group(1)) == 128 + signal.SIGQUIT
    child.expect_exact("$ ")
    child.sendline("stty -a; exit")
    child.expect(pexpect.EOF)
    flags = _stty_flags(child.before)
    assert "echo" in flags and "icanon" in flags, child.before[-400:]


def test_after_ctrl_z_and_fg_single_keys_work_again(pulse, tmp_path):
    child = interactive_shell(pulse.env)
    child.sendline(f"{sys.executable} -m voiceguide play {long_script(tmp_path)}")
    child.expect("space pause")
    time.sleep(1.0)
    child.send("\x1a")   # Ctrl-Z
    child.expect("Stopped")
    child.expect_exact("$ ")
    child.sendline("fg")
    time.sleep(1.0)
    child.send("n")      # one key, no Enter: cbreak mode is back
    child.expect(r"\[Two\]", timeout=10)
    child.send("q")
    child.expect("stopped; take your time", timeout=10)
    child.expect_exact("$ ")
    child.sendline("stty -a; exit")
    child.expect(pexpect.EOF)
    flags = _stty_flags(child.before)
    assert "echo" in flags and "icanon" in flags


def test_an_error_after_portaudio_starts_is_never_lost(tmp_path):
    """PortAudio points stderr at /dev/null while it starts: the error must come after, every time."""
    home, _ = alsa_file_home(tmp_path)
    script = long_script(tmp_path)
    for _ in range(8):
        result = voiceguide("play", str(script), "--device", "no-such-speaker", env=base_env(home))
        assert result.returncode == 1
        assert 'no output device matches; `voiceguide devices` lists them' in result.stderr
