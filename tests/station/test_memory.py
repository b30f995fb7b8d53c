"""The station's idle hooks (voiceguide.station.memory): what it asks of glibc, and when.

The figures themselves are benchmarks/station.py's; these check the behaviour they rely on.
"""

from __future__ import annotations

import threading

import pytest

from voiceguide.station import memory


class FakeLibc:
    """Records the calls made to glibc."""

    def __init__(self) -> None:
        self.calls: list = []

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append(("mallopt", option, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture()
def libc(monkeypatch):
    import ctypes

    fake = FakeLibc()
    monkeypatch.setattr(ctypes, "CDLL", lambda name: fake)
    return fake


def test_the_heap_maps_large_blocks_on_their_own_and_is_shared_by_every_thread(libc):
    memory.keep_heap_small()
    assert ("mallopt", memory.M_MMAP_THRESHOLD, memory.MMAP_FROM) in libc.calls
    assert ("mallopt", memory.M_ARENA_MAX, 1) in libc.calls


def test_giving_back_trims_the_heap(libc):
    memory.give_back()
    assert libc.calls == [("malloc_trim", 0)]


def test_without_glibc_the_hooks_do_nothing(monkeypatch):
    import ctypes

    def missing(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", missing)
    memory.keep_heap_small()
    memory.give_back()


def test_the_runner_ends_the_sound_child_and_gives_memory_back_when_a_job_is_done(monkeypatch):
    from voiceguide.station import runner as runner_module
    from voiceguide.station.shared import Listeners, Playback
    from voiceguide.station.volume import Volume

    calls = []
    idle = threading.Event()
    monkeypatch.setattr(runner_module, "start_audio", lambda: calls.append("start_audio"))
    monkeypatch.setattr(runner_module, "stop_audio", lambda: calls.append("stop_audio"))
    monkeypatch.setattr(runner_module, "give_back", lambda: (calls.append("give_back"), idle.set()))
    runner = runner_module.Runner(Playback(), feedback=None, device_wait=0.0, start_volume_limit=0.0,
                                  volume=Volume(), listeners=Listeners(), changed=lambda: None)
    try:
        with runner.lock:
            runner.add("chime")
        assert idle.wait(5), calls
        assert calls == ["start_audio", "stop_audio", "give_back"]
    finally:
        runner.close()
