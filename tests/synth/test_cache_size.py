"""The speech cache is bounded (issue 14): by size and by age, least recently used first.

The folder-level rules are checked on files made here (fast); the
synthesizer's part -- pruning when a session that added clips ends, without
disturbing a session that is still using a clip -- with real espeak-ng.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import numpy as np
import pytest

from voiceguide.synth import Synthesizer, VoiceSpec
from voiceguide.synth import cache
from voiceguide.ownfiles import PlantedLink
from voiceguide.synth.cachesize import CLEAR_TEMP_AGE_S, DAY, MB, MODELS, Limits, clear, prune, usage

Espeak = functools.partial(VoiceSpec, name="espeak")
NOW = 2_000_000_000.0


def make_clip(folder: Path, n: int, used_days_ago: float, samples: int = 25_000) -> Path:
    """An entry of *samples* samples (~100 kB) last used *used_days_ago* days before NOW."""
    key = f"{n:064x}"
    path = cache.entry_path(folder, key)
    cache.place(cache.write_temp(folder, key, np.full(samples, 0.1, np.float32)), path)
    for p in folder.glob(cache.TEMP_PREFIX + "*"):
        p.unlink()
    t = NOW - used_days_ago * DAY
    os.utime(path, (t, t))
    return path


def test_clips_unused_for_longer_than_the_age_limit_go(tmp_path):
    old = [make_clip(tmp_path, i, 90 + i) for i in range(3)]
    recent = [make_clip(tmp_path, 10 + i, i) for i in range(3)]
    removed = prune(tmp_path, Limits(max_bytes=1000 * MB, max_age_s=60 * DAY), now=NOW)
    assert removed.files == 3
    assert not any(p.exists() for p in old) and all(p.exists() for p in recent)


def test_over_the_size_limit_the_least_recently_used_go_first(tmp_path):
    clips = [make_clip(tmp_path, i, used_days_ago=10 - i) for i in range(10)]  # clips[0] least recent
    size = clips[0].stat().st_size
    prune(tmp_path, Limits(max_bytes=4 * size, max_age_s=365 * DAY), now=NOW)
    assert [p.exists() for p in clips] == [False] * 6 + [True] * 4
    assert usage(tmp_path).bytes <= 4 * size


def test_only_our_own_files_are_touched(tmp_path):
    make_clip(tmp_path, 1, 400)
    mine = tmp_path / "digests.json"
    mine.write_text("{}")
    other = tmp_path / "notes.txt"
    other.write_text("a person's file")
    old_format = tmp_path / ("ab" * 32 + ".npy")
    old_format.write_bytes(b"\x93NUMPY")
    fresh_temp = tmp_path / (cache.TEMP_PREFIX + "123-abc.clip")
    fresh_temp.write_bytes(b"being written")
    stale_temp = tmp_path / (cache.TEMP_PREFIX + "456-def.clip")
    stale_temp.write_bytes(b"left by a killed worker")
    os.utime(stale_temp, (NOW - 2 * cache.STALE_SECONDS,) * 2)
    os.utime(fresh_temp, (NOW - 10,) * 2)
    prune(tmp_path, Limits(max_bytes=1000 * MB, max_age_s=60 * DAY), now=NOW)
    assert mine.exists() and other.exists() and fresh_temp.exists()
    assert not old_format.exists() and not stale_temp.exists()
    assert usage(tmp_path).clips == 0


def test_clear_removes_every_clip_and_keeps_a_running_write(tmp_path):
    for i in range(5):
        make_clip(tmp_path, i, 0)
    running = tmp_path / (cache.TEMP_PREFIX + "1-x.clip")
    running.write_bytes(b"x")
    os.utime(running, (NOW - 1,) * 2)
    removed = clear(tmp_path, now=NOW)
    assert removed.files == 5 and usage(tmp_path).clips == 0 and running.exists()
    assert clear(tmp_path / "missing", now=NOW).files == 0


def prepared_model(models: Path, n: int = 1, size: int = 300_000) -> Path:
    """A prepared voice model of *size* bytes in *models*, named as a Piper worker names it."""
    from types import SimpleNamespace

    from voiceguide.synth.engines.piper import optimised_path

    choice = SimpleNamespace(model_digest=f"{n:064x}", config_digest="c" * 64)
    path = optimised_path(choice, models)
    path.mkdir(parents=True)                       # its graph and its weights
    (path / "model.onnx").write_bytes(b"\0" * (size // 10))
    (path / "model.weights").write_bytes(b"\0" * (size - size // 10))
    return path


def test_prepared_voice_models_are_counted_and_cleared_but_never_pruned(tmp_path):
    make_clip(tmp_path, 1, 400)
    models = tmp_path / MODELS
    model = prepared_model(models)
    foreign = models / "my-voice.onnx"                     # not a name of ours
    foreign.write_bytes(b"a person's own model")
    stale = models / (cache.TEMP_PREFIX + "42-0123456789ab")          # a killed worker's folder
    stale.mkdir()
    (stale / "model.onnx").write_bytes(b"\0" * 1000)
    os.utime(stale, (NOW - 2 * CLEAR_TEMP_AGE_S,) * 2)
    writing = models / (cache.TEMP_PREFIX + "43-0123456789ab.onnx")
    writing.write_bytes(b"\0" * 10)
    os.utime(writing, (NOW - 1,) * 2)
    elsewhere = tmp_path / "elsewhere.onnx"
    elsewhere.write_bytes(b"not in the cache")
    named_like_ours = models / ("piper-" + "f" * 32 + ".onnx")
    named_like_ours.symlink_to(elsewhere)                  # a link under a name of ours: left alone
    old_format = models / ("piper-" + "e" * 32 + ".onnx")   # one file, the weights inside (before format 4)
    old_format.write_bytes(b"\0" * 2000)
    small = models / ("piper-" + "d" * 32 + ".small")      # a small machine's: the model cut in two
    small.mkdir()
    (small / "front.onnx").write_bytes(b"\0" * 3000)
    (small / "back.onnx").write_bytes(b"\0" * 400)

    used = usage(tmp_path)
    assert (used.clips, used.models, used.model_bytes, used.model_temp_bytes) == (1, 3, 305_400, 1010)

    assert prune(tmp_path, Limits(max_bytes=0, max_age_s=0), now=NOW).files == 1   # the clip only
    assert model.exists() and stale.exists()

    removed = clear(tmp_path, now=NOW)
    assert (removed.files, removed.bytes) == (4, 306_400)
    assert not model.exists() and not stale.exists() and not old_format.exists() and not small.exists()
    assert foreign.exists() and writing.exists() and named_like_ours.is_symlink() and elsewhere.exists()
    assert usage(tmp_path).models == 0


def test_a_link_in_the_models_folder_s_place_is_refused(tmp_path):
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    victim = prepared_model(decoy)
    cache_dir = tmp_path / "speech"
    cache_dir.mkdir()
    make_clip(cache_dir, 1, 0)
    (cache_dir / MODELS).symlink_to(decoy)
    with pytest.raises(PlantedLink):
        usage(cache_dir)
    with pytest.raises(PlantedLink):
        clear(cache_dir, now=NOW)
    assert victim.exists() and usage(cache_dir / "none").models == 0
    assert len(list(cache_dir.glob("*" + cache.SUFFIX))) == 1   # refused before anything was removed
    assert prune(cache_dir, Limits(max_bytes=0, max_age_s=0), now=NOW).files == 1  # pruning: the clips only
    assert victim.exists()


def test_limits_come_from_the_config(tmp_path, monkeypatch):
    assert Limits.from_config() == Limits()
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "voiceguide" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("speech_cache_mb = 50\nspeech_cache_days = 7\n")
    assert Limits.from_config() == Limits(50 * MB, 7 * DAY)
    monkeypatch.setenv("VOICEGUIDE_SPEECH_CACHE_MB", "20")
    assert Limits.from_config().max_bytes == 20 * MB
    config.write_text("speech_cache_mb = 0\n")            # invalid: a session still ends well
    assert Limits.from_config() == Limits()


@pytest.mark.audio
def test_a_session_that_adds_clips_keeps_the_folder_within_its_limit(tmp_path):
    texts = [f"This is clip number {i}, spoken slowly." for i in range(6)]
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path, workers=1, limits=Limits(1000 * MB, 60 * DAY)) as s:
        sizes = [s.clip(t, Espeak()).nbytes for t in texts]
    assert usage(tmp_path).clips == 6
    limit = int(sum(sizes) * 0.5)
    # Another session is still playing the first clip when the cache is trimmed.
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path, workers=1) as playing:
        n = playing.length(texts[0], Espeak())
        first = np.array(playing.clip(texts[0], Espeak()))
        time.sleep(0.05)
        with Synthesizer(sample_rate=48000, cache_dir=tmp_path, workers=1, limits=Limits(limit, 60 * DAY)) as s:
            s.clip("A new clip makes this session prune.", Espeak())
        assert usage(tmp_path).bytes <= limit
        assert np.array_equal(playing.clip(texts[0], Espeak()), first) and playing.length(texts[0], Espeak()) == n
    # The most recently used survive: the new clip and the first (just read again).
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path, workers=1) as s:
        assert s.cached("A new clip makes this session prune.", Espeak())
        assert s.cached(texts[0], Espeak())
        assert not s.cached(texts[1], Espeak())
