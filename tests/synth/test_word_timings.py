"""Word timings made with each clip: against the audio (real engines), and kept in the cache compatibly."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from tests.support.onsets import nearest, onsets
from voiceguide.sinks.cues import clip_cues
from voiceguide.synth import Synthesizer, VoiceSpec, cache
from voiceguide.synth.engines import piper
from voiceguide.synth.words import estimate, tokens

SR = 48000
TEXTS = [
    "Find a comfortable position, sitting or standing. Let your hands rest in your lap.",
    "Welcome. This is a body scan, a slow walk of attention from the head down to the feet.",
    "You can open your eyes, move, or end the session whenever you wish. There is nothing to achieve; "
    "we are only noticing.",
]
#: Cue starts against word onsets found in the audio (benchmarks/captions.py measures all the built-in
#: sentences: espeak-ng median 2 ms, worst 66 ms; Piper median 12 ms, worst 295 ms).
TOLERANCE_S = {"espeak": 0.060, "piper": 0.120}
ENGINES = ["espeak"] + (["piper"] if piper.available() else [])


@pytest.mark.audio
@pytest.mark.parametrize("engine", ENGINES)
def test_cue_starts_fall_on_the_words_onsets_in_the_audio(engine, tmp_path):
    errors, first = [], None
    with Synthesizer(sample_rate=SR, cache_dir=tmp_path, workers=1, timeout=120) as synth:
        voice = VoiceSpec(name=engine)
        for text in TEXTS:
            clip = synth.clip(text, voice)
            spans, source = synth.words(text, voice)
            first = first or (spans, source)
            assert source == ("espeak" if engine == "espeak" else "piper-alignment")
            assert len(spans) == len(tokens(text)) and spans[-1][1] == clip.size
            found = onsets(clip, SR)
            for cue in clip_cues(text, spans, 0, clip.size, SR):
                match = nearest(found, cue.start, int(0.4 * SR))
                if match is not None:
                    errors.append(abs(cue.start - match) / SR)
    with Synthesizer(sample_rate=SR, cache_dir=tmp_path, workers=1) as again:  # from the cache, as render reads them
        assert again.words(TEXTS[0], voice) == first
        assert again.stats["synthesised"] == 0
    assert len(errors) >= 4  # the cues whose first word follows a pause the audio shows
    assert max(errors) <= TOLERANCE_S[engine], errors


def test_an_entry_of_format_1_still_loads_with_estimated_timings(tmp_path):
    text, key = "Rest here for a moment.", "cd" * 32
    samples = np.full(4800, 0.1, np.float32)
    data = samples.astype("<f4").tobytes()
    header = struct.pack("<8sI32sQI", cache.MAGIC, 1, bytes.fromhex(key), samples.size, zlib.crc32(data))
    path = cache.entry_path(tmp_path, key)
    path.write_bytes(header.ljust(cache.HEADER_SIZE, b"\0") + data)
    entry = cache.open_entry(path, key)
    try:
        assert np.array_equal(entry.samples(), samples) and entry.trailer() == b""
    finally:
        entry.close()
    from voiceguide.synth.words import pinned_timings

    assert pinned_timings(None, samples.size, text, path, key) == (estimate(text, samples.size), "estimate")


def test_format_2_keeps_the_timings_and_a_damaged_trailer_costs_only_them(tmp_path):
    from voiceguide.synth.words import encode, pinned_timings

    text, key = "Rest here for a moment.", "ef" * 32
    spans = [(0, 1000), (1000, 2000), (2000, 2500), (2500, 3000), (3000, 4800)]
    path = cache.entry_path(tmp_path, key)
    cache.place(cache.write_temp(tmp_path, key, np.full(4800, 0.1, np.float32), encode(spans, "espeak")), path)
    assert pinned_timings(None, 4800, text, path, key) == (spans, "espeak")
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x20
    path.write_bytes(bytes(raw))
    entry = cache.open_entry(path, key)
    try:
        assert entry.samples().size == 4800 and entry.trailer() == b""
    finally:
        entry.close()
    assert pinned_timings(None, 4800, text, path, key)[1] == "estimate"
