"""Issue 14 in audio/: whatever a cache file or a layer holds, nothing blasts, hangs or eats memory.

One test per class of fault: a layer that holds non-numbers or huge values
(the mix stays silent there and under the limiter's ceiling, with one
warning); every kind of damaged loop-cache entry (a FIFO, a folder, a
symlink, an empty or truncated file, NaN samples behind a valid header and
checksum, random bytes, a sparse multi-gigabyte file whose header claims it
all), each rebuilt with one warning line; and a ``sound:`` file too long to
hold in memory, refused from its header with the limit in the message.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile

from voiceguide.audio import generators, loopcache
from voiceguide.audio.dsp import LIMIT_CEILING
from voiceguide.audio.mixer import Mixer, render_blocks
from voiceguide.cli import cli
from voiceguide.script.model import Drone, Say, Script
from voiceguide.timeline import compile_timeline

from tests.support.fakes import SRC, FakeSynth

SR = 48000


@pytest.fixture
def loops(tmp_path, monkeypatch):
    """A private, empty loop cache (the one ``voiceguide`` itself would use)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return loopcache.cache_dir()


def warnings_in(caplog):
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and r.name.startswith("voiceguide")]


def session(ambient=(), clip=None, volume_db=0.0):
    """Mix a short script (a drone under two sentences) in 4096-frame blocks, as play does."""
    script = Script(title="T", path=Path("t.yaml"), duck_db=8.0, ambient=tuple(ambient),
                    steps=(Say("one two three", SRC, pause=1.0), Say("four five", SRC)))
    synth = FakeSynth()
    timeline = compile_timeline(script, synth.length)
    mixer = Mixer(timeline, script, clip or (lambda e: synth.clip(e.text, e.voice)))
    mixer.set_volume_db(volume_db)
    return timeline, np.concatenate([b.copy() for b in render_blocks(mixer, 4096)])


# --- the final mix -------------------------------------------------------------


def test_a_layer_of_non_numbers_and_huge_values_stays_silent_and_under_the_ceiling(caplog):
    synth = FakeSynth()

    def hostile(event):
        clip = synth.clip(event.text, event.voice)
        third = len(clip) // 3
        clip[:third] = np.nan                       # a damaged clip...
        clip[third:2 * third] = 1e30                # ...a wildly loud one...
        clip[2 * third] = np.inf
        clip[2 * third + 1] = -np.inf               # ...and infinities
        return clip

    timeline, out = session(clip=hostile, volume_db=12.0)   # the volume keys turned up too
    assert np.isfinite(out).all()
    assert np.abs(out).max() <= LIMIT_CEILING               # never above -1 dBFS, not even by rounding
    first = timeline.events[0]
    nan_part = out[first.start:first.start + first.length // 3]
    assert not nan_part.any()                               # non-numbers became silence
    assert len(warnings_in(caplog)) == 1                    # one line, not one per block
    assert "not numbers" in warnings_in(caplog)[0]


# --- the loop cache: each kind of damaged entry -----------------------------------


def tone():
    return (0.5 * np.sin(2 * np.pi * 110 * np.arange(SR) / SR)).astype(np.float32)


def entry(folder, key="k"):
    return loopcache.entry_path(key, folder)


def cached(folder, key="k", timeout=10.0):
    """cached_loop in a thread, so a hang fails the test instead of wedging it; returns (loop, made)."""
    made, result = [], []

    def make():
        made.append(1)
        return tone()

    worker = threading.Thread(target=lambda: result.append(loopcache.cached_loop(key, make, folder)),
                              daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), "the loop cache hung on this entry"
    return result[0], len(made)


def write_valid(folder, key="k"):
    folder.mkdir(parents=True, exist_ok=True)
    loop, made = cached(folder, key)
    assert made == 1
    return entry(folder, key)


def assert_rebuilt_once(folder, caplog, reason):
    loop, made = cached(folder)
    assert made == 1 and np.array_equal(loop, tone())
    messages = warnings_in(caplog)
    assert len(messages) == 1 and reason in messages[0] and str(entry(folder)) in messages[0]
    caplog.clear()
    loop, made = cached(folder)                    # stored again: the next run is warm and quiet
    assert made == 0 and np.array_equal(loop, tone()) and warnings_in(caplog) == []


def test_a_missing_entry_is_made_without_a_warning(tmp_path, caplog):
    loop, made = cached(tmp_path / "loops")
    assert made == 1 and warnings_in(caplog) == []
    loop, made = cached(tmp_path / "loops")
    assert made == 0 and np.array_equal(loop, tone()) and not loop.flags.writeable


def test_a_fifo_in_place_of_an_entry_never_hangs(tmp_path, caplog):
    folder = tmp_path / "loops"
    folder.mkdir()
    os.mkfifo(entry(folder))
    assert_rebuilt_once(folder, caplog, "not a regular file")


def test_a_folder_in_place_of_an_entry_is_played_around(tmp_path, caplog):
    folder = tmp_path / "loops"
    entry(folder).mkdir(parents=True)
    for _ in range(2):                             # it cannot be replaced: each run says so once
        loop, made = cached(folder)
        assert made == 1 and np.array_equal(loop, tone())
        messages = warnings_in(caplog)
        assert len(messages) == 1 and "folder" in messages[0] and "remove it" in messages[0]
        caplog.clear()


def test_a_symlink_in_place_of_an_entry_is_not_followed(tmp_path, caplog):
    folder = tmp_path / "loops"
    elsewhere = write_valid(tmp_path / "other", key="k")
    folder.mkdir()
    entry(folder).symlink_to(elsewhere)
    assert_rebuilt_once(folder, caplog, "symbolic link")


@pytest.mark.parametrize("damage, reason", [
    (lambda path: path.write_bytes(b""), "is empty"),                              # a crash while writing
    (lambda path: os.truncate(path, path.stat().st_size - 100), "truncated"),      # a power cut
    (lambda path: os.truncate(path, 20), "truncated"),                             # not even a header
    (lambda path: path.write_bytes(os.urandom(64 * 1024)), "wrong header"),        # garbage
])
def test_an_empty_truncated_or_foreign_entry_is_rebuilt(tmp_path, caplog, damage, reason):
    path = write_valid(tmp_path / "loops")
    damage(path)
    assert_rebuilt_once(tmp_path / "loops", caplog, reason)


def test_random_samples_behind_a_valid_header_fail_the_checksum(tmp_path, caplog):
    path = write_valid(tmp_path / "loops")
    with open(path, "r+b") as f:
        f.seek(loopcache.HEADER_SIZE + 4000)
        f.write(np.random.default_rng(1).uniform(-1, 1, 1000).astype("<f4").tobytes())
    assert_rebuilt_once(tmp_path / "loops", caplog, "checksum")


def test_a_nan_loop_with_a_valid_header_and_checksum_is_rebuilt(tmp_path, caplog):
    folder = tmp_path / "loops"
    folder.mkdir()
    poisoned = np.full(SR, np.nan, dtype=np.float32)
    loopcache.store(entry(folder), loopcache._digest("k"), poisoned)   # as a bug or a person could write it
    assert_rebuilt_once(folder, caplog, "not numbers")


def test_an_entry_copied_over_another_name_is_not_taken_for_it(tmp_path, caplog):
    folder = tmp_path / "loops"
    other = write_valid(folder, key="another sound")
    entry(folder).write_bytes(other.read_bytes())
    assert_rebuilt_once(folder, caplog, "another sound")


def test_a_sparse_multi_gigabyte_entry_is_refused_from_its_header(tmp_path, caplog):
    folder = tmp_path / "loops"
    folder.mkdir()
    count = (2 << 30) // 4                         # 2 GiB of samples, claimed and "there" (sparse)
    path = entry(folder)
    with open(path, "wb") as f:
        f.write(struct.pack("<8sI16sQI", loopcache.MAGIC, loopcache.VERSION, loopcache._digest("k"),
                            count, 0).ljust(loopcache.HEADER_SIZE, b"\0"))
    os.truncate(path, loopcache.HEADER_SIZE + 4 * count)
    started = time.monotonic()
    assert_rebuilt_once(folder, caplog, "claims")
    assert time.monotonic() - started < 2.0        # refused, not read


def test_a_poisoned_drone_entry_plays_as_the_real_drone(loops, caplog):
    bed = (Drone(110.0, -24.0, SRC),)
    _, clean = session(bed)
    drone_entries = list(loops.glob("*" + loopcache.SUFFIX))
    assert len(drone_entries) == 1
    path = drone_entries[0]
    loud = np.ones(30 * SR, dtype=np.float32) * 1000.0
    loud[::7] = np.nan
    digest = bytes.fromhex(path.name[:-len(loopcache.SUFFIX)])
    loopcache.store(path, digest, loud)
    caplog.clear()
    _, again = session(bed)
    np.testing.assert_array_equal(again, clean)     # rebuilt: the session sounds as it should
    assert len(warnings_in(caplog)) == 1


def test_stale_temporaries_and_old_format_entries_are_cleaned_when_writing(tmp_path):
    folder = tmp_path / "loops"
    folder.mkdir()
    stale, fresh, old = folder / ".x.loop.abc.tmp", folder / ".y.loop.def.tmp", folder / "0123.npy"
    for path in (stale, fresh, old):
        path.write_bytes(b"left over")
    hour_ago = time.time() - 2 * loopcache.STALE_SECONDS
    os.utime(stale, (hour_ago, hour_ago))
    cached(folder)
    assert not stale.exists() and not old.exists()
    assert fresh.exists()                           # another process may be writing it now


# --- sound: files too long to hold ------------------------------------------------------


def wav_header(frames: int, rate: int = SR, channels: int = 1) -> bytes:
    data = frames * channels * 2
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
            + b"data" + struct.pack("<I", data))


def test_a_two_gigabyte_sound_file_is_refused_from_its_header(tmp_path):
    path = tmp_path / "huge.wav"
    frames = 0x7FFF0000 // 2                       # 2 GB of 16-bit mono: over six hours
    with open(path, "wb") as f:
        f.write(wav_header(frames))
    os.truncate(path, 44 + 2 * frames)             # sparse: the disk holds almost nothing
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(generators.SoundLoopError) as caught:
            generators.sound_loop(path, SR)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert "6:12:49" in message and "at most 5:00" in message and "shorter" in message
    assert time.monotonic() - started < 2.0 and peak < 10 << 20


def test_a_sound_file_within_the_limit_is_read_in_blocks_not_whole(tmp_path):
    path = tmp_path / "stereo.wav"
    seconds = 120
    t = np.arange(seconds * SR, dtype=np.float32) / SR
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], axis=1)
    soundfile.write(str(path), stereo, SR, subtype="PCM_16")
    del t, stereo
    mono_float32 = seconds * SR * 4                # what the loop itself needs
    tracemalloc.start()
    try:
        loop = generators.sound_loop(path, SR)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(loop) == seconds * SR - round(generators.SOUND_CROSSFADE_SECONDS * SR)
    assert peak < 2.5 * mono_float32               # the whole file as float64 stereo would be 4x


def test_render_names_the_script_line_and_the_limit_for_a_too_long_sound(tmp_path, loops):
    from click.testing import CliRunner

    sound = tmp_path / "long.wav"
    rate = 8000
    frames = int((generators.MAX_SOUND_SECONDS + 1) * rate)
    with open(sound, "wb") as f:
        f.write(wav_header(frames, rate))
        f.write(b"\1\0" * frames)
    script = tmp_path / "s.yaml"
    script.write_text("title: Long\nambient:\n  - sound: long.wav\n    level: -30 dB\nsteps:\n  - bell: chime\n")
    result = CliRunner().invoke(cli, ["render", str(script), "-o", str(tmp_path / "out.wav")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert f"{script}:3" in lines[0] and "lasts 5:01" in lines[0] and "at most 5:00" in lines[0]
    assert not (tmp_path / "out.wav").exists()
