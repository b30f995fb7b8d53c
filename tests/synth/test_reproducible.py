"""Speech synthesis is a function of its cache key (issue 14), on the real engine.

* The same text, voice and rate give the same samples whatever the worker
  spoke before, in any worker (espeak-ng keeps state across utterances; each
  utterance now starts from the same state).
* The first writer of a key wins: a later writer keeps the existing entry.
* A clip's length and samples never change under a session: the timeline
  and the mixer use the clip the synthesizer first read, whatever happens to
  the cache meanwhile.
* Concurrent cold renders (same and different exercises) all succeed, with
  identical files for identical inputs.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from voiceguide.synth import Synthesizer, VoiceSpec
from voiceguide.synth import cache

pytestmark = pytest.mark.audio

Espeak = functools.partial(VoiceSpec, name="espeak")
#: A text whose sentence pause espeak-ng used to stretch after a longer utterance
#: (63023 samples alone, 64305 after BEFORE, at the engine's 22050 Hz).
AFTER = "And release. Let your hands rest."
BEFORE = [
    "Press your palms together firmly, and hold the pressure.",
    "One. Two? Three!",
    "Hello world hello world hello world hello world hello",
]


def spoken(cache_dir: Path, texts, voice=None, workers: int = 1) -> np.ndarray:
    """The last of *texts*, spoken by a fresh synthesizer (fresh workers) after the others."""
    voice = voice or Espeak()
    with Synthesizer(sample_rate=48000, cache_dir=cache_dir, workers=workers) as s:
        out = [np.array(s.clip(t, voice)) for t in texts]
    return out[-1]


def test_same_text_same_samples_whatever_the_worker_spoke_before(tmp_path):
    alone = spoken(tmp_path / "alone", [AFTER])
    for i, before in enumerate(BEFORE):
        after = spoken(tmp_path / f"after-{i}", [before, AFTER])
        assert after.size == alone.size, f"after {before!r}: {after.size} samples, alone {alone.size}"
        assert np.array_equal(after, alone), f"after {before!r}: the samples differ"
    # Another voice and language spoken first in the same worker changes nothing either.
    german = VoiceSpec(name="espeak:gmw/de", language="de")
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path / "mixed", workers=1) as s:
        s.clip("Atme ruhig ein und aus.", german)
        s.clip(BEFORE[0], Espeak(rate=200))
        mixed = np.array(s.clip(AFTER, Espeak()))
    assert np.array_equal(mixed, alone)


def test_same_samples_from_two_workers_at_once(tmp_path):
    """Two workers of one pool, each after different texts, give one result."""
    texts = BEFORE + [t + " Again." for t in BEFORE] + [AFTER]
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path / "a", workers=2) as s:
        s.prefetch((t, Espeak()) for t in texts)
        first = np.array(s.clip(AFTER, Espeak()))
    assert np.array_equal(first, spoken(tmp_path / "b", [AFTER]))


# --- the first writer of a key wins -------------------------------------------

KEY = "5e" * 32


def test_a_later_writer_of_a_key_keeps_the_existing_entry(tmp_path):
    path = cache.entry_path(tmp_path, KEY)
    first = cache.write_temp(tmp_path, KEY, np.full(100, 0.1, np.float32))
    later = cache.write_temp(tmp_path, KEY, np.full(200, 0.2, np.float32))
    assert cache.place(first, path) is True
    assert cache.place(later, path) is False
    assert np.array_equal(cache.load_entry(path, KEY), np.full(100, 0.1, np.float32))


def test_of_many_simultaneous_writers_exactly_one_wins(tmp_path):
    path = cache.entry_path(tmp_path, KEY)
    temps = [cache.write_temp(tmp_path, KEY, np.full(100 + i, 0.01 * (i + 1), np.float32)) for i in range(8)]
    start = threading.Barrier(len(temps))
    placed = [None] * len(temps)

    def write(i):
        start.wait()
        placed[i] = cache.place(temps[i], path)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(temps))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert placed.count(True) == 1
    winner = placed.index(True)
    assert cache.load_entry(path, KEY).size == 100 + winner


# --- a clip never changes under a session -----------------------------------------

#: Long enough (over 2 MB at 48 kHz) that the synthesizer keeps no copy in memory:
#: clip() reads the pinned file again.
LONG = ("Let your attention move slowly down from the crown of your head, over the forehead, "
        "the eyes and the jaw, the neck and the shoulders, the arms and the hands, the chest "
        "and the belly, and rest for a moment wherever you notice warmth or tingling.")


def replace_entry(path: Path, samples: np.ndarray) -> None:
    """What another process (or a re-synthesis after damage) does to the entry's name."""
    key = path.name[: -len(cache.SUFFIX)]
    path.unlink()
    cache.place(cache.write_temp(path.parent, key, samples), path)


def test_a_clip_read_once_stays_the_same_whatever_happens_to_the_cache(tmp_path):
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path, workers=1) as s:
        n = s.length(LONG, Espeak())
        path = s.entry_path(LONG, Espeak())
        original = np.array(cache.load_entry(path, path.stem))
        assert original.nbytes > 2 * 1024 * 1024 and n == original.size
        replace_entry(path, np.full(n + 4321, 0.1, np.float32))    # another writer's clip
        assert s.length(LONG, Espeak()) == n
        assert np.array_equal(s.clip(LONG, Espeak()), original)
        path.unlink()                                                # evicted meanwhile
        assert np.array_equal(s.clip(LONG, Espeak()), original)
        assert s.length(LONG, Espeak()) == n


def test_a_pinned_file_damaged_in_place_is_spoken_again_at_the_same_length(tmp_path, caplog):
    """Nothing of ours writes into an entry; if something else does, the session still goes on."""
    import logging

    caplog.set_level(logging.WARNING, logger="voiceguide.synth")
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path, workers=1) as s:
        n = s.length(LONG, Espeak())
        path = s.entry_path(LONG, Espeak())
        original = np.array(cache.load_entry(path, path.stem))
        with open(path, "r+b") as f:                     # the same file, changed where it lies
            f.seek(cache.HEADER_SIZE + 4000)
            f.write(b"\x7f" * 4000)
        again = s.clip(LONG, Espeak())
        assert again.size == n and s.length(LONG, Espeak()) == n
        assert np.array_equal(again, original)           # spoken again: the same samples
        assert np.array_equal(s.clip(LONG, Espeak()), original)
    warnings = [r.getMessage() for r in caplog.records if r.name == "voiceguide.synth"]
    assert len(warnings) == 1 and "while in use" in warnings[0]


def test_render_uses_the_clips_its_timeline_measured(tmp_path):
    """Timeline first, then every entry replaced by a clip of another length, then the mix:
    once "internal error (ValueError: clip ... has N samples, timeline expects M)"."""
    from voiceguide.player.render import render
    from voiceguide.player.session import Options, Session
    from voiceguide.script.loader import load

    import soundfile

    script_path = tmp_path / "short.yaml"
    script_path.write_text("title: Short\nvoice: {name: espeak}\nsteps:\n"
                           "  - say: Breathe in.\n    pause: 1s\n  - say: " + LONG + "\n", encoding="utf-8")
    script = load(script_path)
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path / "speech", workers=1) as s:
        session = Session(script, Options(ambient=False), synthesizer=s)
        timeline = session.timeline()
        for path in (tmp_path / "speech").glob("*" + cache.SUFFIX):
            replace_entry(path, np.full(cache.load_entry(path, path.stem).size + 999, 0.05, np.float32))
        render(session, tmp_path / "out.wav", timeline=timeline)
    audio, rate = soundfile.read(tmp_path / "out.wav", dtype="float32")
    assert audio.shape[0] == timeline.length
    says = [e for e in timeline.events if e.kind == "say"]
    last = says[-1]
    heard = audio[last.start:last.start + last.length]
    if heard.ndim > 1:
        heard = heard.mean(axis=1)
    assert np.max(np.abs(heard)) > 0.2                       # speech, not the 0.05 stand-in
    assert not np.allclose(heard[len(heard) // 2: len(heard) // 2 + 100], 0.05, atol=1e-3)


# --- concurrent cold renders ---------------------------------------------------

SCRIPTS = {
    "a": "title: A\nvoice: {name: espeak}\nsteps:\n  - say: Find a comfortable position.\n    pause: 1s\n"
         "  - say: Let your shoulders soften.\n  - count: 3\n",
    "b": "title: B\nvoice: {name: espeak}\nsteps:\n  - say: Press your palms together firmly.\n"
         "  - say: And release. Let your hands rest.\n    pause: 1s\n",
}


@pytest.mark.slow
def test_concurrent_cold_renders_all_succeed_with_identical_files(tmp_path):
    """Four renders of one exercise and two of another at once, on one empty cache:
    each file is the one a render alone, on a cache of its own, makes."""
    import os

    for name, text in SCRIPTS.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    jobs = [("a", i) for i in range(4)] + [("b", i) for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "voiceguide", "render", str(tmp_path / f"{name}.yaml"),
                               "--no-ambient", "-o", str(tmp_path / f"{name}-{i}.wav")],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, i in jobs]
    for (name, i), proc in zip(jobs, procs):
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"render {name} #{i}: {err}"
    for name in SCRIPTS:  # each as it comes out alone, on a cache of its own
        alone = tmp_path / f"{name}-alone.wav"
        subprocess.run([sys.executable, "-m", "voiceguide", "render", str(tmp_path / f"{name}.yaml"),
                        "--no-ambient", "-o", str(alone)], check=True, capture_output=True, cwd=tmp_path,
                       env=dict(env, XDG_CACHE_HOME=str(tmp_path / f"alone-{name}")), timeout=120)
        files = sorted(tmp_path.glob(f"{name}-[0-9].wav"))
        assert len(files) == sum(1 for n, _ in jobs if n == name)
        assert all(f.read_bytes() == alone.read_bytes() for f in files), f"renders of {name} differ"
