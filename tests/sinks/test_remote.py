"""The station's PortAudio in a child process (voiceguide.sinks.remote): sample for sample what was
written, never PortAudio in the process that writes, and the idle hook that ends the child.

Real PortAudio and ALSA, into ALSA's ``file`` plugin (tests/support/audio_env.py): unpaced, so fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

from tests.support.audio_env import alsa_file_home, base_env

pytestmark = pytest.mark.audio

SR = 48000


@pytest.fixture()
def file_device(tmp_path, monkeypatch):
    """This process's children play into a WAV file (the child reads HOME's .asoundrc when it starts)."""
    home, wav = alsa_file_home(tmp_path)
    for name, value in base_env(home).items():
        monkeypatch.setenv(name, value)
    return wav


def tone(seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.25 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_what_the_child_plays_is_what_was_written_and_the_writer_never_loads_portaudio(file_device):
    script = textwrap.dedent("""
        import sys
        import numpy as np
        from voiceguide.sinks import live
        from voiceguide.sinks.remote import ChildPortAudio

        child = ChildPortAudio()
        live.use_portaudio(child)
        t = np.arange(24000) / 48000
        samples = (0.25 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        out = live.LiveOutput(48000)
        out.start()
        for at in range(0, len(samples), out.blocksize):
            out.write(samples[at:at + out.blocksize])
        out.close()
        child.close()
        print(out.first_audible is not None, out.underruns, "sounddevice" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "0", "False"]
    heard, rate = sf.read(str(file_device), dtype="float32")
    assert rate == SR
    start = int(np.flatnonzero(np.abs(heard[:, 0]) > 1e-6)[0]) - 1  # after the pre-roll's silence (sin 0 = 0)
    expected = tone()
    np.testing.assert_allclose(heard[start:start + len(expected), 0], expected, atol=1e-6)
    np.testing.assert_allclose(heard[start:start + len(expected), 1], expected, atol=1e-6)


def test_a_closed_child_is_gone_for_good_and_a_write_then_is_the_device_lost(file_device):
    from voiceguide.sinks import live
    from voiceguide.sinks.remote import ChildPortAudio, PortAudioError

    child = ChildPortAudio()
    live.use_portaudio(child)
    try:
        out = live.LiveOutput(SR)
        out.start()
        out.write(tone(0.05))
        proc = child._proc
        child.close()
        assert proc is not None and proc.poll() is not None, "the child ended"
        assert not child.alive
        with pytest.raises(live.DeviceLost):
            out.write(tone(0.05))
        with pytest.raises(PortAudioError):
            child._initialize()  # a thread a stop left behind cannot bring PortAudio back
    finally:
        live.use_portaudio(None)


def test_a_child_that_died_is_started_again_by_a_rescan(file_device):
    from voiceguide.sinks import live
    from voiceguide.sinks.remote import ChildPortAudio

    child = ChildPortAudio()
    try:
        first = child.pid
        assert child.query_devices()  # it answers
        assert child._proc is not None
        child._proc.kill()
        child._proc.wait()
        live.rescan_devices(child)
        assert child.alive and child.pid != first
        assert child.query_devices()
    finally:
        child.close()


def test_the_station_starts_the_child_for_a_job_and_ends_it_when_idle(file_device):
    """The runner's hooks (voiceguide.station.runner: start_audio before a job, stop_audio when idle)."""
    from voiceguide.sinks import live
    from voiceguide.station.memory import start_audio, stop_audio

    assert live.chosen_portaudio() is None
    start_audio()
    child = live.chosen_portaudio()
    try:
        assert child is not None and child.alive
        start_audio()  # a second job in the same busy spell: the same child
        assert live.chosen_portaudio() is child
        proc = child._proc
        stop_audio()
        assert live.chosen_portaudio() is None and not child.alive
        assert proc.poll() is not None
    finally:
        if live.chosen_portaudio() is not None:
            live.chosen_portaudio().close()
        live.use_portaudio(None)


def test_the_child_outlives_a_signal_to_the_whole_group_so_the_station_can_fade_out(file_device):
    """Ctrl-C in a terminal and systemd's stop signal every process of the station at once."""
    import signal

    from voiceguide.sinks.remote import ChildPortAudio

    child = ChildPortAudio()
    try:
        assert child.query_devices()  # up: its handlers are set
        assert child.pid is not None
        os.kill(child.pid, signal.SIGINT)
        os.kill(child.pid, signal.SIGTERM)
        assert child.query_devices() and child.alive
    finally:
        child.close()


def test_a_voiceguide_folder_in_the_stations_current_folder_is_never_run_as_the_sound_child(file_device, tmp_path):
    """Started like the speech workers (lifetime.boot_code): `python -m` would have run an unpacked
    archive's voiceguide/sinks/remote.py from the folder the station was started in."""
    from voiceguide.sinks.remote import ChildPortAudio

    hostile = tmp_path / "unpacked"
    marker = tmp_path / "foreign-code-ran"
    (hostile / "voiceguide" / "sinks").mkdir(parents=True)
    for name in ("__init__.py", "sinks/__init__.py", "sinks/remote.py"):
        (hostile / "voiceguide" / name).write_text(f"open({str(marker)!r}, 'a').write('{name}\\n')\n")
    here = os.getcwd()
    os.chdir(hostile)
    try:
        child = ChildPortAudio()
        try:
            assert any(d["max_output_channels"] > 0 for d in child.query_devices())
        finally:
            child.close()
    finally:
        os.chdir(here)
    assert not marker.exists(), marker.read_text()
