"""``render -o F.mp3`` (and ``.opus``): the mix for a phone, with a chapter per section.

Real speech, a real encoder (libsndfile's LAME) and a real decoder
(libsndfile's mpg123): the decoded file is as long as ``preview --json``
says, and the chapters start where preview says each section's first sound
starts.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli

SCRIPT = """\
title: Chapters ünd all
summary: Two parts, for the phone.
ambient:
  - noise: pink
    level: -34 dB
steps:
  - bell: bowl
  - section: Arriving
  - say: Find a comfortable position.
    pause: 2s
  - section: Pressing the palms
  - say: Press your palms together.
  - count: 2
  - section: Closing
  - say: You may stop at any time.
  - bell: bowl
"""


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def preview(script) -> dict:
    done = run("preview", str(script), "--json")
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def first_sounds(document: dict):
    """(section, start seconds) of each section's first event, as preview lists them."""
    seen = []
    for event in document["events"]:
        if event["section"] is not None and (not seen or seen[-1][0] != event["section"]):
            seen.append((event["section"], event["start"]))
    return seen


def test_an_mp3_is_as_long_as_preview_says_with_a_chapter_per_section(tmp_path):
    import soundfile
    from mutagen.id3 import ID3
    from mutagen.mp3 import MP3

    if "MPEG_LAYER_III" not in soundfile.available_subtypes("MP3"):
        pytest.skip("this libsndfile cannot write MP3")
    script = tmp_path / "chapters.yaml"
    script.write_text(SCRIPT)
    out = tmp_path / "chapters.mp3"
    done = run("render", str(script), "-o", str(out))
    assert done.exit_code == 0, done.output
    document = preview(script)

    # the decoded length: the LAME info frame gives the encoder's delay and padding back
    info = soundfile.info(str(out))
    assert info.samplerate == document["sample_rate"] and info.channels == 1
    assert abs(info.frames / info.samplerate - document["duration"]) <= 1152 / info.samplerate
    decoded, rate = soundfile.read(str(out), dtype="float32")
    assert len(decoded) == info.frames and abs(decoded).max() > 0.05

    mp3 = MP3(str(out))
    assert str(mp3.info.bitrate_mode).endswith("VBR") and 40_000 < mp3.info.bitrate < 96_000

    tags = ID3(str(out))
    assert tags["TIT2"].text == ["Chapters ünd all"]
    assert tags.getall("COMM")[0].text == ["Two parts, for the phone."]
    toc = tags.getall("CTOC")
    assert len(toc) == 1 and toc[0].flags & 1 and toc[0].flags & 2   # top level, ordered
    chapters = [tags[f"CHAP:{cid}"] for cid in toc[0].child_element_ids]
    expected = first_sounds(document)
    assert [c.sub_frames["TIT2"].text[0] for c in chapters] == [name for name, _ in expected]
    for chapter, (_, start) in zip(chapters, expected):
        assert abs(chapter.start_time - start * 1000) <= 1
    # each ends where the next starts; the last at the end of the file
    assert [c.end_time for c in chapters[:-1]] == [c.start_time for c in chapters[1:]]
    assert abs(chapters[-1].end_time - document["duration"] * 1000) <= 1
    # the sound at a chapter's start is the section's first word, not silence before it
    start = int(expected[1][1] * rate)
    assert abs(decoded[start:start + rate // 2]).max() > abs(decoded[start - rate // 10:start]).max()


def test_an_opus_file_in_ogg_has_the_same_length_title_and_chapters(tmp_path):
    import soundfile
    from mutagen.oggopus import OggOpus

    if "OPUS" not in soundfile.available_subtypes("OGG"):
        pytest.skip("this libsndfile has no Opus")
    script = tmp_path / "chapters.yaml"
    script.write_text(SCRIPT)
    out = tmp_path / "chapters.opus"
    assert run("render", str(script), "-o", str(out)).exit_code == 0
    document = preview(script)
    assert abs(soundfile.info(str(out)).frames / 48000 - document["duration"]) <= 0.01
    tags = OggOpus(str(out)).tags
    assert tags["TITLE"] == ["Chapters ünd all"] and tags["COMMENT"] == ["Two parts, for the phone."]
    assert [tags[f"CHAPTER{n:03d}NAME"][0] for n in (1, 2, 3)] == [name for name, _ in first_sounds(document)]


def test_a_wav_gets_no_tags_and_an_unknown_format_names_mp3(tmp_path):
    script = tmp_path / "chapters.yaml"
    script.write_text(SCRIPT)
    done = CliRunner().invoke(cli, ["render", str(script), "-o", str(tmp_path / "x.aac")])
    assert done.exit_code == 2 and ".mp3" in done.output
