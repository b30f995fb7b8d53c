"""A speech worker started before the voice is known (issue 24): taken by the first pool, or let go.

Real worker processes (espeak-ng: quick to load); the Piper path of a whole
cold session is tests/player/test_first_clause.py.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest

from voiceguide.synth import Synthesizer, VoiceSpec, prestart
from voiceguide.synth.workers import default_worker_argv, spawn

Espeak = functools.partial(VoiceSpec, name="espeak", rate=140)
TEXT = "Let your shoulders soften."


@pytest.fixture
def two_cores(monkeypatch):
    """As on a machine with a core to spare (begin() skips the early worker on one core)."""
    monkeypatch.setattr("voiceguide.synth.budget.usable_cores", lambda: 2)
    yield
    prestart.discard()


def waiting_pid() -> int:
    assert prestart._waiting is not None
    return prestart._waiting.proc.pid


def ended(proc, within: float = 5.0) -> bool:
    try:
        proc.wait(within)
        return True
    except Exception:
        return False


def test_the_first_worker_is_the_one_started_early_and_speaks_as_a_fresh_one(two_cores, tmp_path):
    assert prestart.begin()
    early = waiting_pid()
    with Synthesizer(cache_dir=tmp_path / "a", workers=1) as synth:
        samples = np.array(synth.clip(TEXT, Espeak()))
        pids = [w.pid for pool in synth._jobs.pools.values() for w in pool.slots if w is not None]
        assert pids == [early] and synth.stats["workers_started"] == 1
    assert prestart._waiting is None                     # taken once, by that synthesizer
    with Synthesizer(cache_dir=tmp_path / "b", workers=1) as synth:   # no early worker now: one of its own
        again = np.array(synth.clip(TEXT, Espeak()))
    assert samples.size > 10_000 and np.array_equal(samples, again)


def test_a_synthesizer_with_a_worker_of_its_own_never_takes_it(two_cores, tmp_path):
    import sys
    from pathlib import Path

    helper = Path(__file__).resolve().parents[1] / "support" / "synth_worker.py"
    assert prestart.begin()
    early = waiting_pid()
    with Synthesizer(cache_dir=tmp_path, workers=1, worker_argv=[sys.executable, str(helper)]) as synth:
        assert np.array(synth.clip(TEXT, Espeak())).size > 0
        pids = [w.pid for pool in synth._jobs.pools.values() for w in pool.slots if w is not None]
    assert early not in pids and waiting_pid() == early


def test_an_early_worker_nobody_takes_goes_away(two_cores):
    assert prestart.begin()
    proc = prestart._waiting.proc
    prestart.discard()
    assert ended(proc) and proc.returncode == 0
    # ... and one nobody speaks to gives up by itself.
    alone = spawn(default_worker_argv() + [prestart.DEFERRED_FLAG, "--wait", "0.5"])
    started = time.monotonic()
    assert ended(alone.proc) and alone.proc.returncode == 0 and time.monotonic() - started < 4.0
    alone.stderr.close()


def test_a_line_that_is_not_an_engine_ends_it_quietly(two_cores):
    alone = spawn(default_worker_argv() + [prestart.DEFERRED_FLAG])
    out, _ = alone.proc.communicate(b"rm -rf /\n", timeout=10)
    assert alone.proc.returncode == 0 and out == b""
    alone.stderr.close()


def test_one_core_gets_no_early_worker(monkeypatch):
    monkeypatch.setattr("voiceguide.synth.budget.usable_cores", lambda: 1)
    assert not prestart.begin() and prestart._waiting is None


def test_a_warm_session_lets_it_go_at_once(two_cores, tmp_path, monkeypatch):
    """Every clip cached: the player has nothing to make, and the early worker is let go."""
    from voiceguide.player.session import Options, Session
    from voiceguide.script.loader import load_text
    from voiceguide.script.model import Voice

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    script = load_text("title: Warm\nsteps:\n  - say: Let your shoulders soften.\n  - pause: 1s\n", "warm.yaml")
    options = Options(voice=Voice(name="espeak"))
    with Session(script, options) as session:
        for text, voice in session.speech():
            session.synth.clip(text, session.spec(voice))     # the cache made warm
    assert prestart.begin()
    proc = prestart._waiting.proc
    with Session(script, options) as session:
        session.start_speech()
        assert ended(proc)
    assert prestart._waiting is None


def test_a_second_worker_starts_only_once_the_first_has_spoken(tmp_path):
    """The first clip gets the machine to itself: a second worker loading beside it would halve its speed."""
    # A long first clip (~0.2 s to make): a second worker started beside it would start well before it is done.
    texts = [" ".join(["Let the breath come and go on its own, and let the shoulders rest."] * 6)]
    texts += [f"Breathe in, and out, number {n}." for n in range(3)]
    with Synthesizer(cache_dir=tmp_path, workers=2) as synth:
        synth.prefetch((t, Espeak()) for t in texts)
        synth.clip(texts[0], Espeak())
        first_done = time.time()
        for t in texts[1:]:
            synth.clip(t, Espeak())
        pids = [w.pid for pool in synth._jobs.pools.values() for w in pool.slots if w is not None]
        starts = sorted(started_at(pid) for pid in pids)
    assert len(starts) == 2
    assert starts[1] >= first_done - 0.05 > starts[0]


def started_at(pid: int) -> float:
    """Wall-clock start of process *pid* (Linux /proc; clock ticks)."""
    import os

    with open(f"/proc/{pid}/stat") as f:
        ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
