"""Speech cache entries are untrusted (issue 14): they never make noise and never wedge.

Whatever sits at an entry's name -- a FIFO, a folder, a symlink, an empty,
truncated, foreign or damaged file, NaN or full-scale samples behind a valid
header and checksum -- the clip is made again (real espeak-ng), with exactly
one warning line naming the entry and what was wrong, and nothing blocks.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from voiceguide.synth import Synthesizer, VoiceSpec
from voiceguide.synth import cache

pytestmark = pytest.mark.audio

Espeak = functools.partial(VoiceSpec, name="espeak")
TEXT = "Rest here for a moment."


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """The clip as a clean cache makes it, and its key."""
    folder = tmp_path_factory.mktemp("clean")
    with Synthesizer(sample_rate=48000, cache_dir=folder, workers=1) as s:
        samples = np.array(s.clip(TEXT, Espeak()))
        key = s.entry_path(TEXT, Espeak()).stem
    return samples, key


def entry_bytes(key: str, samples: np.ndarray, crc=None, version=cache.VERSION) -> bytes:
    """A complete entry for *key* with any samples (a valid header and, by default, checksum)."""
    data = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    header = struct.pack("<8sI32sQI", cache.MAGIC, version, bytes.fromhex(key), len(data) // 4,
                         zlib.crc32(data) if crc is None else crc)
    return header.ljust(cache.HEADER_SIZE, b"\0") + data


def damage(path: Path, how: str, samples: np.ndarray, key: str) -> None:
    valid = entry_bytes(key, samples)
    if how == "fifo":
        os.mkfifo(path)
    elif how == "folder":
        path.mkdir()
        (path / "inside.txt").write_text("a person's file")
    elif how == "symlink-to-device":
        path.symlink_to("/dev/zero")
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "header-only":
        path.write_bytes(valid[: cache.HEADER_SIZE])
    elif how == "truncated":
        path.write_bytes(valid[: len(valid) // 2])
    elif how == "garbage":
        path.write_bytes(os.urandom(len(valid)))
    elif how == "old-format":
        path.write_bytes(entry_bytes(key, samples, version=cache.VERSION + 7))
    elif how == "another-key":
        path.write_bytes(entry_bytes("ab" * 32, samples))
    elif how == "flipped-byte":
        raw = bytearray(valid)
        raw[len(raw) // 2] ^= 0x40
        path.write_bytes(bytes(raw))
    elif how == "nan-with-checksum":
        bad = samples.copy()
        bad[::7] = np.nan
        path.write_bytes(entry_bytes(key, bad))
    elif how == "noise-with-checksum":
        noise = np.random.default_rng(1).uniform(-1, 1, samples.size).astype(np.float32)
        path.write_bytes(entry_bytes(key, noise))
    elif how == "huge-count":
        path.write_bytes(struct.pack("<8sI32sQI", cache.MAGIC, cache.VERSION, bytes.fromhex(key), 1 << 40, 0)
                         .ljust(cache.HEADER_SIZE, b"\0"))
    else:
        raise ValueError(how)


KINDS = ["fifo", "folder", "symlink-to-device", "empty", "header-only", "truncated", "garbage",
         "old-format", "another-key", "flipped-byte", "nan-with-checksum", "noise-with-checksum", "huge-count"]


def with_deadline(seconds: float, work):
    """Run *work* in a thread; fail (instead of hanging the suite) if it takes longer."""
    result = {}

    def run():
        try:
            result["value"] = work()
        except BaseException as e:  # pragma: no cover - reported below
            result["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"blocked for more than {seconds} s"
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.mark.parametrize("how", KINDS)
def test_a_wrong_entry_is_made_again_with_one_warning(tmp_path, good, how, caplog):
    samples, key = good
    path = cache.entry_path(tmp_path, key)
    damage(path, how, samples, key)
    caplog.set_level(logging.WARNING, logger="voiceguide.synth")

    def speak():
        with Synthesizer(sample_rate=48000, cache_dir=tmp_path, workers=1) as s:
            s.prefetch([(TEXT, Espeak())])
            n = s.length(TEXT, Espeak())
            return n, np.array(s.clip(TEXT, Espeak())), dict(s.stats)

    n, clip, stats = with_deadline(60, speak)
    assert n == samples.size and np.array_equal(clip, samples)
    assert stats["synthesised"] == 1
    warnings = [r.getMessage() for r in caplog.records if r.name == "voiceguide.synth"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("voiceguide: warning: the speech cache entry ") and str(path) in warnings[0]
    assert "made again" in warnings[0]
    # The name now holds a sound entry again, and a symlink's target was never touched.
    assert path.is_file() and not path.is_symlink()
    assert np.array_equal(cache.load_entry(path, key), samples)
    assert Path("/dev/zero").exists()


def test_a_missing_entry_is_no_warning(tmp_path, good, caplog):
    caplog.set_level(logging.WARNING, logger="voiceguide.synth")
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path, workers=1) as s:
        assert np.array_equal(s.clip(TEXT, Espeak()), good[0])
    assert [r for r in caplog.records if r.name == "voiceguide.synth"] == []


def test_a_name_that_cannot_be_freed_still_speaks(tmp_path, good, monkeypatch):
    """A folder in the entry's place that cannot be removed (another user's, say): the name stays
    taken, so nothing is cached, but the clip is spoken from the worker's own file."""
    samples, key = good
    path = cache.entry_path(tmp_path, key)
    path.mkdir()
    monkeypatch.setattr(cache, "discard", lambda *a, **kw: None)   # removal fails
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path, workers=1) as s:
        n = with_deadline(60, lambda: s.length(TEXT, Espeak()))
        assert n == samples.size and np.array_equal(s.clip(TEXT, Espeak()), samples)
    assert path.is_dir()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(cache.TEMP_PREFIX)] == []


def test_render_with_a_fifo_in_the_cache_finishes_with_one_warning_line(tmp_path, good):
    """The whole command, as a person runs it: no hang, exit 0, one line on stderr."""
    samples, key = good
    script = tmp_path / "rest.yaml"
    script.write_text(f"title: Rest\nvoice: {{name: espeak}}\nsteps:\n  - say: {TEXT}\n", encoding="utf-8")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    folder = tmp_path / "cache" / "voiceguide" / "speech"
    folder.mkdir(parents=True)
    os.mkfifo(cache.entry_path(folder, key))
    exe = shutil.which("voiceguide", path=str(Path(sys.executable).parent))
    done = subprocess.run([exe, "render", str(script), "--no-ambient", "-o", str(tmp_path / "out.wav")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(lines) == 1 and "speech cache entry" in lines[0] and "pipe" in lines[0], done.stderr
    assert cache.entry_path(folder, key).is_file()


def test_the_speech_cache_is_readable_by_its_owner_only(tmp_path, good):
    """The clips say what a person listens to: the README promises they stay private."""
    import stat

    folder = tmp_path / "new" / "speech"
    with Synthesizer(sample_rate=48000, cache_dir=folder, workers=1) as s:
        s.clip(TEXT, Espeak())
        path = s.entry_path(TEXT, Espeak())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
