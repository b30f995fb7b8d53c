"""Shared fixtures: a private HOME/XDG tree per test, and the shared fakes (tests/support/).

The fake synthesizer is only for fast unit tests of the timeline and mixer;
the tests that prove a path works use the real engines (espeak-ng, and Piper
where the `neural` extra is installed: then it is the default voice).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
