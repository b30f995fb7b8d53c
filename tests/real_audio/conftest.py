"""Fixtures shared by the real-audio tests: a private PulseAudio sink, an ALSA file device.

``desktop_pulse`` plays the part of the sound server every desktop runs: it
answers where libpulse looks by default (``$XDG_RUNTIME_DIR/pulse/native``), so
the tests can prove they do not depend on there being none.
"""

from __future__ import annotations

from typing import Dict

import pytest

from tests.support.audio_env import PulseNullSink, alsa_file_home, base_env


@pytest.fixture()
def pulse(tmp_path) -> PulseNullSink:
    """A private real-time PulseAudio null sink for one test (a module may share one instead)."""
    with PulseNullSink(tmp_path) as sink:
        yield sink


@pytest.fixture()
def alsa_env(tmp_path) -> Dict[str, str]:
    """An environment whose default ALSA device writes, unpaced, to tmp_path/played.wav."""
    home, _ = alsa_file_home(tmp_path)
    return base_env(home)


@pytest.fixture()
def desktop_pulse(tmp_path, monkeypatch) -> PulseNullSink:
    """A PulseAudio server found the way a desktop's is: through this process's ``XDG_RUNTIME_DIR``.

    :class:`PulseNullSink` puts its socket at ``DIR/pulse/native``, which is
    where libpulse (and ALSA's pulse hook) look when ``XDG_RUNTIME_DIR`` is
    ``DIR`` and nothing else says otherwise. Whatever a test builds from
    ``os.environ`` afterwards sees this server as a user's own.
    """
    runtime = tmp_path / "desktop-runtime"
    with PulseNullSink(runtime) as sink:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        for name in ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "PULSE_CLIENTCONFIG"):
            monkeypatch.delenv(name, raising=False)
        yield sink
