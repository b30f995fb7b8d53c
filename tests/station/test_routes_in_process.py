"""Every API route of the station in-process: Starlette's TestClient over a fake controller.

The real station (a process, a socket, speech and sound) is tested in
``tests/station/test_station.py``; here each route's happy path and its
errors run in milliseconds against :class:`tests.support.station_fakes.FakeController`,
which records what reached it.
"""

from __future__ import annotations

import pytest

pytest.importorskip("httpx")  # Starlette's TestClient needs it (the test extra installs it)

from starlette.testclient import TestClient  # noqa: E402

from tests.support.station_fakes import KEYS, STATE, TOKEN, FakeController  # noqa: E402
from voiceguide.errors import NotFoundError  # noqa: E402
from voiceguide.station.app import create_app  # noqa: E402
from voiceguide.station.event_stream import EventHub  # noqa: E402

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def station(monkeypatch):
    """(client, controller, schedules added, schedules removed); schedules never reach systemd here."""
    from voiceguide.station import schedules

    added: list = []
    removed: list = []
    monkeypatch.setattr(schedules, "add", lambda *a, **k: added.append((a, k)))
    monkeypatch.setattr(schedules, "remove", lambda *a, **k: removed.append((a, k)))
    monkeypatch.setattr(schedules, "listing", lambda *a, **k: [])
    controller = FakeController()
    app = create_app(controller, TOKEN, hub=EventHub())
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        yield client, controller, added, removed


def test_without_the_token_every_route_is_401_and_nothing_reaches_the_controller(station):
    client, controller, _, _ = station
    for method, path in [("GET", "/api/state"), ("GET", "/api/exercises"), ("POST", "/api/play"),
                         ("POST", "/api/volume"), *(("POST", f"/api/{k}") for k in KEYS)]:
        answer = client.request(method, path, json={"id": "body-scan"})
        assert answer.status_code == 401, (path, answer.text)
        assert set(answer.json()) == {"error"}
        wrong = client.request(method, path, json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401, path
        # a good request clears this address's run of bad tokens, which the guard slows down more
        # each time (about 90 s for the whole loop otherwise)
        assert client.get("/api/state", headers=AUTH).status_code == 200
    assert controller.calls == []


def test_state_and_exercises(station):
    client, _, _, _ = station
    answer = client.get("/api/state", headers=AUTH)
    assert answer.status_code == 200 and answer.json() == STATE
    answer = client.get("/api/exercises", headers=AUTH)
    assert answer.status_code == 200 and answer.json()[0]["id"] == "body-scan"


def test_play_reaches_the_controller_with_its_length_and_origin(station):
    client, controller, _, _ = station
    answer = client.post("/api/play", json={"id": "body-scan"}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json() == STATE
    assert controller.calls == [("play", ("body-scan", None, "api"))]


def test_play_without_an_id_is_400_and_an_unknown_one_404(station):
    client, controller, _, _ = station
    answer = client.post("/api/play", json={}, headers=AUTH)
    assert answer.status_code == 400 and "say which exercise" in answer.json()["error"]
    assert controller.calls == []
    controller.fail = NotFoundError("no exercise named nothing-here")
    answer = client.post("/api/play", json={"id": "nothing-here"}, headers=AUTH)
    assert answer.status_code == 404 and answer.json() == {"error": "no exercise named nothing-here"}


@pytest.mark.parametrize("key", KEYS)
def test_each_key_reaches_the_controller(station, key):
    client, controller, _, _ = station
    answer = client.post(f"/api/{key}", json={}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert controller.calls == [(key, ())]


def test_volume_and_its_refusals(station):
    client, controller, _, _ = station
    assert client.post("/api/volume", json={"db": -2}, headers=AUTH).status_code == 200
    assert controller.calls == [("volume", (-2.0,))]
    for body in ({}, {"db": "-2"}, {"db": True}, {"db": 43}):
        answer = client.post("/api/volume", json=body, headers=AUTH)
        assert answer.status_code == 400 and "dB" in answer.json()["error"], body
    assert controller.calls == [("volume", (-2.0,))]


def test_a_get_where_a_post_belongs_is_refused(station):
    client, controller, _, _ = station
    answer = client.get("/api/stop", headers=AUTH)
    assert answer.status_code == 405
    assert controller.calls == []


def test_schedules_are_listed_added_and_removed(station):
    client, _, added, removed = station
    answer = client.get("/api/schedules", headers=AUTH)
    assert answer.status_code == 200 and answer.json() == []
    answer = client.post("/api/schedules", json={"id": "body-scan", "at": "07:30"}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert len(added) == 1
    answer = client.post("/api/schedules/remove", json={"name": "body-scan-0730"}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert len(removed) == 1


def test_prepare_reaches_the_controller_and_an_unknown_id_is_404(station):
    client, controller, _, _ = station
    answer = client.post("/api/prepare", json={"id": "body-scan"}, headers=AUTH)
    assert answer.status_code == 200 and answer.json() == {"preparing": "body-scan"}
    assert controller.calls == [("prepare", ("body-scan",))]
    answer = client.post("/api/prepare", json={"id": "nothing-here"}, headers=AUTH)
    assert answer.status_code == 404 and set(answer.json()) == {"error"}
