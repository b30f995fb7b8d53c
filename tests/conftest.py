"""Shared fixtures: a private HOME/XDG tree per test, the shared fakes (tests/support/), and real sound devices.

The sound devices are for the tests marked ``audio``, in whichever package
folder they live: ``pulse`` (a private real-time PulseAudio null sink),
``alsa_env`` (an environment whose default ALSA device writes, unpaced, to a
file) and ``desktop_pulse`` (a server found the way a desktop's is).

The fake synthesizer is only for fast unit tests of the timeline and mixer;
the tests that prove a path works use the real engines (espeak-ng, and Piper
where the `neural` extra is installed: then it is the default voice).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict

import pytest

from tests.support.audio_env import PulseNullSink, alsa_file_home, base_env
from tests.support.fakes import SRC, FakeSynth  # noqa: F401  (shared with the tests)


@pytest.fixture(autouse=True)
def private_dirs(tmp_path_factory, monkeypatch):
    """Never touch the developer's own config or cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))  # the practice log
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_cache_dir()))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    return home


def shared_cache_dir() -> Path:
    """A speech cache shared by the whole test run (synthesis is real, and slowish)."""
    root = Path(os.environ.get("VOICEGUIDE_TEST_CACHE", "/tmp/voiceguide-test-cache"))
    root.mkdir(parents=True, exist_ok=True)
    return root


# -- real sound devices, for the tests marked audio --------------------------------------------------

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
