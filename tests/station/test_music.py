"""Music from the station's music folder (issue 19): a piece chosen by NAME, never by path.

The controller's refusals run on a real :class:`Controller` over a folder
of real files (a piece, a link out, a FIFO, a hidden file); the routes run
in-process over the fake controller; one real station plays a short script
with a ``music`` step from its configured ``music_folder``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from voiceguide.errors import NotFoundError, UsageError

MUSIC_SCRIPT = """\
title: Music check
summary: A short piece between two sentences.
steps:
  - say: Before the music. You may stop at any time.
  - section: The music
  - music: 10s
    fade: 1s
  - say: After the music.
"""

PLAIN = """\
title: Plain
steps:
  - say: Nothing but words.
"""


def write_piece(path, seconds: float = 4.0, rate: int = 44100):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.5 * np.sin(2 * np.pi * 330.0 * t)).astype(np.float32), rate)
    return path


def music_station_config(tmp_path):
    """A config folder for a station: music_folder with one 4 s piece, and the music-check exercise."""
    music = tmp_path / "music"
    music.mkdir()
    write_piece(music / "calm piece.wav")
    config = tmp_path / "config"
    (config / "voiceguide" / "scripts").mkdir(parents=True)
    (config / "voiceguide" / "scripts" / "music-check.yaml").write_text(MUSIC_SCRIPT)
    (config / "voiceguide" / "config.toml").write_text(f'[station]\nmusic_folder = "{music}"\n')
    return config


@pytest.fixture()
def folder(tmp_path):
    """A music folder: one good piece, and what must never be offered or played."""
    music = tmp_path / "music"
    music.mkdir()
    write_piece(music / "calm piece.wav")
    write_piece(music / ".hidden.wav", 1.0)
    write_piece(tmp_path / "outside.wav", 1.0)
    os.symlink(tmp_path / "outside.wav", music / "link-out.wav")
    os.mkfifo(music / "pipe.wav")
    (music / "notes.txt").write_text("not music")
    (music / "sub.wav").mkdir()
    return music


@pytest.fixture()
def scripts(tmp_path):
    (tmp_path / "music-check.yaml").write_text(MUSIC_SCRIPT)
    (tmp_path / "plain.yaml").write_text(PLAIN)
    return {"music-check": tmp_path / "music-check.yaml", "plain": tmp_path / "plain.yaml"}


def controller_for(tmp_path, scripts, music_folder):
    from voiceguide.station.controller import Controller, Playback

    return Controller(Playback(device="no-such-sound-device-here"), device_wait=0.0, feedback=None,
                      catalog=lambda: dict(scripts), state_file=tmp_path / "state.json", music_folder=music_folder)


@pytest.fixture()
def controller(tmp_path, scripts, folder):
    c = controller_for(tmp_path, scripts, folder)
    yield c
    c.close()


def test_the_folder_lists_its_regular_sound_files_only(controller):
    assert controller.music() == [{"name": "calm piece.wav", "seconds": 4.0}]


def test_exercises_say_which_need_music(controller):
    needs = {e["id"]: e["needs_music"] for e in controller.exercises()}
    assert needs == {"music-check": True, "plain": False}


@pytest.mark.parametrize("name", ["../x.wav", "/etc/passwd", ".hidden.wav", "..", "a/../calm piece.wav",
                                  "calm\\piece.wav", "calm piece.wav\n", ""])
def test_a_name_that_is_a_path_or_hidden_is_refused(controller, name):
    with pytest.raises(UsageError, match="not a path"):
        controller.play("music-check", music=name)
    assert controller.state()["state"] == "idle"


@pytest.mark.parametrize("name", ["link-out.wav", "pipe.wav", "sub.wav", "notes.txt", "missing.wav"])
def test_a_link_out_a_fifo_a_folder_or_a_stranger_is_not_in_the_folder(controller, name):
    with pytest.raises(NotFoundError, match="no piece") as refused:
        controller.play("music-check", music=name)
    assert "GET /api/music" in str(refused.value)
    assert controller.state()["state"] == "idle"


def test_a_music_exercise_needs_a_piece_and_others_take_none(controller):
    with pytest.raises(UsageError, match="choose a piece from the station's music folder"):
        controller.play("music-check")
    with pytest.raises(UsageError, match="has no music step"):
        controller.play("plain", music="calm piece.wav")
    assert controller.state()["state"] == "idle"


def test_without_a_folder_nothing_is_offered_and_the_refusal_says_what_to_do(tmp_path, scripts):
    c = controller_for(tmp_path, scripts, None)
    try:
        assert c.music() == []
        with pytest.raises(UsageError, match=r"choose a piece: set music_folder under \[station\]"):
            c.play("music-check")
        with pytest.raises(UsageError, match="no music folder"):
            c.play("music-check", music="calm piece.wav")
        assert c.state()["state"] == "idle"
    finally:
        c.close()


def test_a_good_name_is_the_piece_in_the_folder(folder):
    from voiceguide.station.music import choose

    assert choose(folder, "calm piece.wav") == folder / "calm piece.wav"


def test_the_setting_comes_from_the_file_and_the_environment(tmp_path):
    from voiceguide.station.settings import station_settings

    config = tmp_path / "config.toml"
    config.write_text('[station]\nmusic_folder = "~/Music/voiceguide"\n')
    assert station_settings(config, {}).music_folder == os.path.expanduser("~/Music/voiceguide")
    assert station_settings(config, {"VOICEGUIDE_STATION_MUSIC_FOLDER": "/srv/music"}).music_folder == "/srv/music"
    assert station_settings(tmp_path / "none.toml", {}).music_folder is None


# -- the routes, in-process ----------------------------------------------------------


@pytest.fixture()
def routes():
    pytest.importorskip("httpx")
    from starlette.testclient import TestClient

    from tests.support.station_fakes import TOKEN, FakeController
    from voiceguide.station.app import create_app
    from voiceguide.station.event_stream import EventHub

    controller = FakeController()
    with TestClient(create_app(controller, TOKEN, hub=EventHub()), base_url="http://127.0.0.1:8765") as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield client, controller


def test_get_music_lists_the_pieces_and_needs_the_token(routes):
    client, controller = routes
    assert client.get("/api/music").json() == []
    controller.pieces = [{"name": "calm piece.wav", "seconds": 4.0}]
    assert client.get("/api/music").json() == [{"name": "calm piece.wav", "seconds": 4.0}]
    assert client.get("/api/music", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_play_passes_the_music_name_on_and_refuses_anything_but_a_name(routes):
    client, controller = routes
    answer = client.post("/api/play", json={"id": "music-check", "music": "calm piece.wav"})
    assert answer.status_code == 200, answer.text
    assert controller.calls == [("play", ("music-check", None, "api"), ("music", "calm piece.wav"))]
    for music in (3, ["a.wav"], {"name": "a.wav"}, True):
        answer = client.post("/api/play", json={"id": "music-check", "music": music})
        assert answer.status_code == 400 and "name of a piece" in answer.json()["error"], music
    assert len(controller.calls) == 1
    controller.fail = UsageError('"Music check" plays a piece of music you choose: choose a piece: set music_folder')
    answer = client.post("/api/play", json={"id": "music-check"})
    assert answer.status_code == 400 and "music_folder" in answer.json()["error"]


def test_the_client_sends_the_name(monkeypatch):
    from voiceguide.station.address import Address
    from voiceguide.station.client import Client

    sent = []
    client = Client(Address("127.0.0.1", 8765), token="t" * 43)
    monkeypatch.setattr(client, "call", lambda method, path, body=None, expect=dict: sent.append(body) or {
        "state": "idle", "exercise": None, "title": None, "elapsed": 0.0, "duration": None, "section": None,
        "text": None, "volume_db": 0.0})
    client.play("music-check", music="calm piece.wav")
    assert sent == [{"id": "music-check", "origin": "ctl", "music": "calm piece.wav"}]


# -- a real station ----------------------------------------------------------------------


@pytest.mark.audio
@pytest.mark.slow
def test_a_real_station_plays_a_piece_from_its_music_folder(tmp_path):
    from tests.support.audio_env import PulseNullSink
    from tests.support.station_env import Station

    config = music_station_config(tmp_path)
    with PulseNullSink(tmp_path / "pulse") as pulse, \
            Station(dict(pulse.env, XDG_CONFIG_HOME=str(config)), tmp_path) as station:
        assert station.api("GET", "/api/music") == [{"name": "calm piece.wav", "seconds": 4.0}]
        listed = {e["id"]: e["needs_music"] for e in station.api("GET", "/api/exercises")}
        assert listed["music-check"] is True and listed["short-check"] is False
        status, refused = station.request("POST", "/api/play", {"id": "music-check"})
        assert status == 400 and "choose a piece" in refused["error"]
        status, refused = station.request("POST", "/api/play", {"id": "music-check", "music": "../calm piece.wav"})
        assert status == 400 and "not a path" in refused["error"]
        assert station.api("GET", "/api/state")["state"] == "idle"
        done = station.ctl("play", "music-check", "--music", "calm piece.wav")
        assert done.returncode == 0, done.stderr
        state = station.wait_for(lambda s: s["section"] == "The music" and s["text"]
                                 and "music" in s["text"], timeout=60, what="the music step")
        assert state["state"] == "playing" and state["exercise"] == "music-check"
        station.wait_for(lambda s: s["state"] == "idle", timeout=60, what="the session's end")
        assert "session music-check completed" in station.log()
        listing = station.ctl("music")
        assert listing.returncode == 0 and "calm piece.wav" in listing.stdout and "0:04" in listing.stdout
