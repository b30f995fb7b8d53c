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
def two_cores(monkeypatch, tmp_path_factory):
    """As on a machine with a core to spare (begin() skips the early worker on one core).

    With a speech cache of its own: the run's shared cache holds the guess any Piper test left
    (``models/next-worker.json``), and an early worker busy loading that model under a loaded CI
    machine outlived end()'s grace and was killed (-9) where a test expected it to end by itself.
    """
    monkeypatch.setattr("voiceguide.synth.budget.usable_cores", lambda: 2)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
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


def test_the_early_worker_can_be_turned_off(two_cores, monkeypatch):
    monkeypatch.setenv(prestart.OFF_ENV, "1")
    assert not prestart.begin() and prestart._waiting is None
    monkeypatch.setenv(prestart.OFF_ENV, "0")
    assert prestart.begin()


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
    import threading

    with Synthesizer(cache_dir=tmp_path, workers=2) as synth:
        synth.prefetch((t, Espeak()) for t in texts)
        job = synth._jobs._jobs[synth.entry_path(texts[0], Espeak()).stem]
        answered: list = []
        waiter = threading.Thread(target=lambda: (job.done.wait(), answered.append(time.time())))
        waiter.start()
        synth.clip(texts[0], Espeak())
        waiter.join()
        first_done = answered[0]
        for t in texts[1:]:
            synth.clip(t, Espeak())
        pids = [w.pid for pool in synth._jobs.pools.values() for w in pool.slots if w is not None]
        starts = sorted(started_at(pid) for pid in pids)
    assert len(starts) == 2
    assert starts[1] >= first_done - 0.03 > starts[0]   # /proc counts in 10 ms ticks


def started_at(pid: int) -> float:
    """Wall-clock start of process *pid* (Linux /proc; clock ticks)."""
    import os

    with open(f"/proc/{pid}/stat") as f:
        ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")


# -- the guessed voice ---------------------------------------------------------------------------

class FakeEngine:
    name = "fake"


def test_the_guessed_engine_is_kept_only_when_the_player_asks_for_exactly_it(monkeypatch):
    import io

    from voiceguide.synth import worker

    loads: list = []
    monkeypatch.setattr(worker, "open_engine", lambda *a, **k: loads.append(a) or FakeEngine())
    guessed = FakeEngine()
    out = io.StringIO()
    asked = ["--engine", "piper", "--model", "/m.onnx", "--threads", "2"]
    assert worker.start_asked(out, asked, [(list(asked), guessed)]) is guessed and loads == []
    assert '"ready": true' in out.getvalue()
    other = worker.start_asked(io.StringIO(), asked, [(asked[:-1] + ["1"], guessed)])   # not the same threads
    assert other is not guessed and loads == [("piper", "/m.onnx")]


def test_a_guess_that_cannot_load_is_no_guess_and_a_worker_started_with_one_speaks(two_cores, tmp_path):
    """A real early worker told a wrong guess (a model that is not there) still starts what is asked."""
    import json

    from voiceguide.synth.workers import Worker

    assert prestart.take(default_worker_argv()) is None
    wrong = ["--engine", "piper", "--model", str(tmp_path / "gone.onnx")]
    early = spawn(default_worker_argv() + [prestart.DEFERRED_FLAG, "--guess", json.dumps(wrong)])
    w = Worker(default_worker_argv() + ["--engine", "espeak"], 15.0, deferred=(early, ["--engine", "espeak"]))
    try:
        reply = w.request({"op": "voices"}, 15.0)
        assert reply.get("ok") and reply["voices"]
    finally:
        w.close()


def test_the_guess_is_remembered_beside_the_models_and_never_through_a_link(tmp_path, monkeypatch):
    args = ["--engine", "piper", "--model", "/v.onnx", "--threads", "2"]
    prestart.remember(tmp_path, args)
    guess = tmp_path / "models" / prestart.GUESS_FILE
    assert prestart._read_guess(guess) == args and (guess.parent.stat().st_mode & 0o777) == 0o700
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))
    from voiceguide.synth.cachefolder import default_cache_dir

    mine = default_cache_dir() / "models" / prestart.GUESS_FILE
    mine.parent.mkdir(parents=True)
    victim = tmp_path / "victim.json"
    victim.write_text('{"start": ["--engine", "piper", "--model", "/elsewhere.onnx"]}')
    mine.symlink_to(victim)
    assert prestart._guess() is None                           # a planted link is no guess
    prestart.remember(default_cache_dir(), args)               # ... and is replaced, never written through
    assert victim.read_text().count("elsewhere") == 1 and not mine.is_symlink()
    assert prestart._guess() == args
    mine.write_text("not json")
    assert prestart._guess() is None
    prestart.remember(default_cache_dir(), args)               # a damaged one is written again
    assert prestart._guess() == args


def test_a_guess_is_only_loaded_with_its_saved_model_in_this_users_cache(monkeypatch, tmp_path):
    """Loading may write a saved model: an edited guess never makes the worker write elsewhere."""
    import json

    from voiceguide.synth import worker
    from voiceguide.synth.cachefolder import default_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    loads: list = []
    monkeypatch.setattr(worker, "open_engine", lambda *a, **k: loads.append(k) or FakeEngine())
    ours = ["--engine", "piper", "--model", "/v.onnx", "--optimised", str(default_cache_dir() / "models" / "piper-x")]
    elsewhere = ours[:-1] + [str(tmp_path / "elsewhere" / "piper-x")]
    assert worker.load_guess(json.dumps(elsewhere)) is None and loads == []
    assert worker.load_guess(json.dumps(ours))[0] == ours and len(loads) == 1
    assert worker.load_guess("not json") is None and worker.load_guess(json.dumps(["--threads", "x"])) is None
