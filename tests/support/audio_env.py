"""Real audio devices for tests, on machines without a sound card.

* :func:`alsa_file_home` -- a HOME whose ``.asoundrc`` makes ALSA's default
  PCM a ``file`` plugin over ``null``: everything PortAudio plays is written
  to a WAV file, unpaced. The ``plug`` in front converts to S32_LE because
  the plugin's WAV header can only describe integer PCM.
* :class:`PulseNullSink` -- a private PulseAudio server with a null sink: a
  real-time paced device whose monitor can be recorded with ``parec``.

Neither may meet the sound server of the person running the tests. On a
desktop, Debian's ``/etc/alsa/conf.d/99-pulse.conf`` hooks ALSA's ``default``
over to PulseAudio whenever a server answers, and that hook runs after
``~/.asoundrc`` is read, so a file device there would never capture. Two
defences, each enough on its own: :func:`base_env` hides the user's server from
the children (:func:`hide_user_sound_server`), and :data:`ASOUNDRC_FILE` drops
the pending ALSA hooks (``!@hooks []``) so its ``default`` stands even when a
server is found.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

ASOUNDRC_FILE = """\
# No pending hook may take the default away: 99-pulse.conf's hook (run after
# this file is read) would make it PulseAudio whenever a server answers.
!@hooks [ ]
pcm.!default {{
    type plug
    slave {{
        pcm "captured"
        format S32_LE
        rate 48000
    }}
}}
pcm.captured {{
    type file
    slave.pcm "null"
    file "{wav}"
    format "wav"
}}
"""

ASOUNDRC_PULSE = """\
pcm.!default {{
    type pulse
    server "unix:{socket}"
}}
ctl.!default {{
    type pulse
    server "unix:{socket}"
}}
"""


#: A PulseAudio client configuration that never starts a server by itself.
NO_AUTOSPAWN = "autospawn = no\n"


def hide_user_sound_server(env: Dict[str, str], home: Path) -> Dict[str, str]:
    """Make *env*'s children blind to the PulseAudio (or pipewire-pulse) server of the person running the tests.

    libpulse finds a server through ``PULSE_SERVER``, the client configuration
    (``default-server``), the X11 root window's ``PULSE_SERVER`` property (with
    ``DISPLAY``) and the socket in its runtime folder (``$XDG_RUNTIME_DIR/pulse``,
    or ``PULSE_RUNTIME_PATH``), and may start one (autospawn). ALSA's pulse hook
    asks the same way, so each of these is closed here: an empty private runtime
    folder, a client configuration of our own, no display. ``XDG_RUNTIME_DIR``
    itself is left alone (the user's systemd is found through it); a test that
    wants a server of its own names it with ``PULSE_SERVER`` afterwards.
    """
    runtime = home / ".pulse-none"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = home / ".pulse-client.conf"
    if not config.exists():
        config.write_text(NO_AUTOSPAWN)
    env.pop("PULSE_SERVER", None)
    env.pop("DISPLAY", None)
    env["PULSE_RUNTIME_PATH"] = str(runtime)
    env["PULSE_CLIENTCONFIG"] = str(config)
    return env


def base_env(home: Path) -> Dict[str, str]:
    """The environment of a voiceguide child: *home* as HOME and XDG folders, and no user's sound server."""
    env = dict(os.environ)
    env["HOME"] = str(home)
    hide_user_sound_server(env, home)
    env.setdefault("XDG_CACHE_HOME", os.environ.get("XDG_CACHE_HOME", str(home / ".cache")))
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["XDG_DATA_HOME"] = str(home / ".local" / "share")  # the practice log
    return env


def alsa_file_home(tmp: Path) -> (Path, Path):
    """(home, wav): a HOME whose default ALSA device writes to *wav*."""
    home = tmp / "alsa-home"
    home.mkdir(parents=True, exist_ok=True)
    wav = tmp / "played.wav"
    (home / ".asoundrc").write_text(ASOUNDRC_FILE.format(wav=wav))
    return home, wav


def voiceguide(*args: str, env: Dict[str, str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voiceguide", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, **kw)


class PulseNullSink:
    """A private PulseAudio daemon with one null sink, started and stopped by the test."""

    def __init__(self, tmp: Path):
        if not shutil.which("pulseaudio"):
            raise RuntimeError("pulseaudio is not installed (./run installs it)")
        self.dir = tmp / "pulse"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = self.dir / "native"
        self.home = tmp / "pulse-home"
        self.home.mkdir(exist_ok=True)
        (self.home / ".asoundrc").write_text(ASOUNDRC_PULSE.format(socket=self.socket))
        self.proc: Optional[subprocess.Popen] = None
        self.recorder: Optional[subprocess.Popen] = None

    @property
    def env(self) -> Dict[str, str]:
        env = base_env(self.home)
        env["PULSE_SERVER"] = f"unix:{self.socket}"
        env["XDG_RUNTIME_DIR"] = str(self.dir)
        return env

    def start(self) -> "PulseNullSink":
        env = self.env
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
             "--disable-shm=yes", "--log-target=stderr", "--log-level=error",
             "-L", "module-null-sink sink_name=vg rate=48000 channels=2",
             "-L", f"module-native-protocol-unix socket={self.socket} auth-anonymous=1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            ok = subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0
            if ok:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("PulseAudio did not start")

    def __enter__(self) -> "PulseNullSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def record(self, wav: Path) -> None:
        """Start recording the sink's monitor into *wav* (float32, 48 kHz, mono)."""
        self.recorder = subprocess.Popen(
            ["parec", "-d", "vg.monitor", "--format=float32le", "--rate=48000", "--channels=1",
             "--latency-msec=20", "--file-format=wav", str(wav)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 5  # wait until parec is really recording
        while time.time() < deadline and (not wav.exists() or wav.stat().st_size < 4096):
            time.sleep(0.05)

    def play_and_signal(self, script: Path, sig: int, after: float, wav: Path,
                        env: Optional[Dict[str, str]] = None) -> Tuple[int, str, float]:
        """Record *wav* while ``voiceguide play`` runs; send *sig* after *after* seconds.

        Returns (exit status, stderr, seconds from the signal to the exit).
        """
        self.record(wav)
        proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "play", str(script)],
                                env=env or self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        time.sleep(after)
        sent = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=10)
        took = time.monotonic() - sent
        time.sleep(0.3)
        self.stop_recording()
        return proc.returncode, err, took

    def stop_recording(self) -> None:
        if self.recorder is not None:
            self.recorder.send_signal(signal.SIGINT)
            try:
                self.recorder.wait(5)
            except subprocess.TimeoutExpired:
                self.recorder.kill()
            self.recorder = None

    def stop(self) -> None:
        self.stop_recording()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
