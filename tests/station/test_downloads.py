"""``GET /api/exercises/ID/audio``: a real station process renders, keeps and streams an MP3.

Real speech, a real encoder, a real socket: the file decodes to the length
``preview --json`` gives for the station's settings, its chapters are the
sections, the second ask is served from the folder, and two phones asking
at once get one render.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from tests.conftest import shared_cache_dir
from tests.support.station_env import Station
from voiceguide.station.downloads import Downloads, disposition, file_name

SECTIONS = """\
title: Bödy scan / short
summary: Two parts.
steps:
  - section: Head
  - say: Notice your forehead.
    pause: 1s
  - section: Feet
  - say: Notice your feet.
"""


def get(station: Station, path: str, token: Optional[str] = "") -> Tuple[int, Dict[str, str], bytes, float]:
    """(status, headers, body, seconds to the first byte of the body)."""
    conn = http.client.HTTPConnection("127.0.0.1", station.port, timeout=120)
    headers = {} if token is None else {"Authorization": f"Bearer {token or station.token}"}
    began = time.monotonic()
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        first = response.read(1)
        ttfb = time.monotonic() - began
        body = first + response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body, ttfb
    finally:
        conn.close()


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("downloads")
    config = tmp / "config"
    (config / "voiceguide" / "scripts").mkdir(parents=True)
    (config / "voiceguide" / "scripts" / "two-parts.yaml").write_text(SECTIONS)
    # the run's shared cache (speech is real and slowish); a download's key holds the script's path,
    # which is this test's own, so what this module renders is new
    env = dict(os.environ, XDG_CONFIG_HOME=str(config), XDG_CACHE_HOME=str(shared_cache_dir()))
    with Station(env, tmp) as s:
        yield s


def preview(station: Station, ident: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "voiceguide", "preview", ident, "--json", *args],
                          env=station.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def downloads_folder(station: Station) -> Path:
    return Path(station.env["XDG_CACHE_HOME"]) / "voiceguide" / "downloads"


def test_an_exercise_downloads_as_an_mp3_with_chapters_named_for_a_person(station, tmp_path):
    import soundfile
    from mutagen.id3 import ID3

    folder = downloads_folder(station)
    before = set(folder.glob("*.mp3"))
    status, headers, body, cold = get(station, "/api/exercises/two-parts/audio?format=mp3")
    assert status == 200, body[:300]
    assert headers["content-type"] == "audio/mpeg"
    assert int(headers["content-length"]) == len(body) > 10_000
    assert headers["content-disposition"].startswith("attachment; filename=\"Body scan - short - ")
    assert "filename*=UTF-8''B%C3%B6dy%20scan%20-%20short%20-%20" in headers["content-disposition"]
    assert "no-store" in headers["cache-control"]
    out = tmp_path / "got.mp3"
    out.write_bytes(body)
    document = preview(station, "two-parts")
    info = soundfile.info(str(out))
    assert abs(info.frames / info.samplerate - document["duration"]) <= 1152 / info.samplerate
    tags = ID3(str(out))
    assert tags["TIT2"].text == ["Bödy scan / short"]
    names = [tags[f"CHAP:{cid}"].sub_frames["TIT2"].text[0] for cid in tags.getall("CTOC")[0].child_element_ids]
    assert names == ["Head", "Feet"]

    # asked again: the same bytes, from the folder
    status, _, again, warm = get(station, "/api/exercises/two-parts/audio?format=mp3")
    assert status == 200 and again == body
    assert warm < cold
    assert len(set(folder.glob("*.mp3")) - before) == 1
    print(f"time to first byte: cold {cold * 1000:.0f} ms, warm {warm * 1000:.0f} ms")


def test_a_length_is_rendered_and_named_and_two_phones_get_one_render(station, tmp_path):
    import soundfile

    before = set(downloads_folder(station).glob("*.mp3"))
    answers: list = []

    def ask() -> None:
        answers.append(get(station, "/api/exercises/short-check/audio?format=mp3&length=1m"))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert [a[0] for a in answers] == [200, 200]
    assert answers[0][2] == answers[1][2]
    assert 'filename="Short check - 1 min.mp3"' in answers[0][1]["content-disposition"]
    made = set(downloads_folder(station).glob("*.mp3")) - before
    assert len(made) == 1
    out = tmp_path / "minute.mp3"
    out.write_bytes(answers[0][2])
    expected = preview(station, "short-check", "--length", "1m")["duration"]
    assert abs(soundfile.info(str(out)).frames / 48000 - expected) <= 1152 / 48000


@pytest.mark.parametrize("path, status, words", [
    ("/api/exercises/nothing-here/audio", 404, "no exercise"),
    ("/api/exercises/..%2F..%2Fetc%2Fpasswd/audio", 404, ""),   # no route: "/" is never in an id
    ("/api/exercises/short-check/audio?format=wav", 400, "format=mp3"),
    ("/api/exercises/short-check/audio?length=soon", 400, "length"),
    ("/api/exercises/short-check/audio?length=1s", 422, "cannot be reached"),
])
def test_unknown_ids_formats_and_lengths_are_refused_in_one_line(station, path, status, words):
    got, headers, body, _ = get(station, path)
    assert got == status, body
    assert words in json.loads(body)["error"]


def test_no_token_no_download(station):
    got, _, body, _ = get(station, "/api/exercises/short-check/audio", token=None)
    assert got == 401 and b"token" in body


def test_file_names_people_recognise():
    assert file_name("Body scan", 15 * 60 + 10, ".mp3") == "Body scan - 15 min.mp3"
    assert file_name("A: b/c\\d?", 40, ".mp3") == "A- b-c-d - 40 s.mp3"
    assert file_name("\u202eevil\n", 600, ".mp3") == "evil - 10 min.mp3"
    assert disposition("Body scan - 15 min.mp3") == 'attachment; filename="Body scan - 15 min.mp3"'
    assert disposition("Pause für dich - 5 min.mp3") == (
        "attachment; filename=\"Pause fur dich - 5 min.mp3\"; "
        "filename*=UTF-8''Pause%20f%C3%BCr%20dich%20-%205%20min.mp3")


def test_one_render_for_two_askers_and_the_folder_is_bounded(tmp_path, monkeypatch):
    from voiceguide.station.shared import Playback

    scripts = Path(os.environ["XDG_CONFIG_HOME"]) / "voiceguide" / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    (scripts / "two-parts.yaml").write_text(SECTIONS)
    downloads = Downloads(Playback().session_options, where=tmp_path / "downloads", limit=10**9)
    sizes = []

    def ask(length):
        fd, size, name = downloads.open("two-parts", "mp3", length)
        os.close(fd)
        sizes.append((size, name))

    threads = [threading.Thread(target=ask, args=(None,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert downloads.renders == 1 and len(set(sizes)) == 1
    ask(30.0)
    assert downloads.renders == 2
    files = sorted((tmp_path / "downloads").glob("*.mp3"), key=lambda p: p.stat().st_mtime_ns)
    assert len(files) == 2
    # the least recently served goes first when the folder is over its bound
    downloads.limit = files[-1].stat().st_size
    assert downloads.prune() == 1
    assert [p.name for p in (tmp_path / "downloads").glob("*.mp3")] == [files[-1].name]
