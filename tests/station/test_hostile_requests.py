"""The station's app against hostile bodies and lengths, in-process (no socket, no sound).

The ASGI app is called directly, byte for byte (bodies and headers no
client would send), over the stand-in controller of
``tests/support/station_fakes.py``, which records what reached it
(each route's ordinary answers: ``test_routes_in_process.py``): a refused
request must never reach it. Lengths are checked against the real built-in
exercises. What only a real socket shows (timeouts,
the connection cap) is in ``tests/station/test_station_pressure.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.station_fakes import TOKEN, FakeController
from voiceguide.station.app import MAX_DEPTH, create_app, parse_body
from voiceguide.station.event_stream import EventHub

POSTS = ["/api/play", "/api/pause", "/api/resume", "/api/toggle", "/api/next", "/api/back", "/api/stop",
         "/api/volume", "/api/schedules", "/api/schedules/remove", "/api/prepare"]


@pytest.fixture()
def station(monkeypatch):
    """(app, controller, schedules added); schedules never reach systemd here."""
    from voiceguide.station import schedules

    added: List[tuple] = []
    monkeypatch.setattr(schedules, "add", lambda *a, **k: added.append((a, k)))
    monkeypatch.setattr(schedules, "listing", lambda *a, **k: [])
    controller = FakeController()
    return create_app(controller, TOKEN, hub=EventHub()), controller, added


def call(app, method: str, path: str, body: bytes = b"", headers=()) -> Tuple[int, Dict[bytes, bytes], Any]:
    """One request through the ASGI app: (status, headers, decoded JSON or raw bytes)."""

    async def run() -> list:
        sent: list = []
        given = False

        async def receive():
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
                 "root_path": "", "scheme": "http", "http_version": "1.1", "asgi": {"version": "3.0"},
                 "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8765),
                 "headers": [(b"host", b"127.0.0.1:8765"), (b"authorization", f"Bearer {TOKEN}".encode()),
                             (b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode()), *headers]}
        await app(scope, receive, send)
        return sent

    sent = asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    raw = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    try:
        data = json.loads(raw)
    except ValueError:
        data = raw
    return start["status"], dict(start["headers"]), data


def assert_refused(status: int, data: Any, code: int = 400) -> None:
    assert status == code, (status, data)
    assert isinstance(data, dict) and set(data) == {"error"}
    assert isinstance(data["error"], str) and "\n" not in data["error"] and len(data["error"]) < 400


HOSTILE = [
    b"[" * 5000, b"{\"db\": " + b"[" * 5000, b"{\"a\":" * 5000, b"{\"db\": 1" + b"0" * 4000 + b"}",
    b"{\"db\": -1" + b"0" * 4300 + b"}", b"{\"db\": 1e400}", b"{\"db\": -1e999}", b"{\"db\": NaN}",
    b"{\"db\": Infinity}", b"{\"db\": -Infinity}", b"\xff\xfe{}", b"{\"id\": \"\xc3\x28\"}", b"\xef\xbb\xbf{}",
    b"[]", b"[1, 2]", b"\"text\"", b"42", b"null", b"true", b"{\"db\": 1, \"db\": 2}",
    b"{\"id\": \"body-scan\", \"id\": \"other\"}", b"{", b"{\"db\": }", b"{\"id\": \"a\\u0000\"}",
    b"{\"id\": \"a\x00b\"}", b"{\"db\": \"-2\"}", b"{\"db\": true}", b"{\"db\": null}", b"{\"db\": [1]}",
    b"{\"db\": 43}", b"{\"id\": 5}", b"{\"id\": [\"body-scan\"]}", b"{\"id\": {}}", b"{\"name\": 5}",
    b"{\"id\": \"daily-check-in\", \"at\": 730}", b"{\"id\": \"x\", \"at\": \"07:30\", \"days\": [1]}",
    b"{\"id\": \"body-scan\", \"length\": [15]}", b"{\"id\": \"body-scan\", \"length\": true}",
    b"{\"id\": \"body-scan\", \"length\": \"15 parsecs\"}", b"{\"id\": \"body-scan\", \"length\": -5}",
    b"{\"id\": \"body-scan\", \"length\": 1e308}", b"{\"id\": \"body-scan\", \"origin\": {\"a\": 1}}",
    b"{\"a\": " + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}",
]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("body", HOSTILE, ids=lambda b: repr(b[:24]))
def test_no_hostile_body_gets_a_500_and_none_reaches_the_controller_unchecked(station, path, body):
    app, controller, added = station
    status, headers, data = call(app, "POST", path, body)
    assert status < 500, (status, data)
    assert headers.get(b"cache-control") == b"no-store"
    if status >= 400:
        assert_refused(status, data, status)


@pytest.mark.parametrize("body, words", [
    (b"[" * 5000, "nests deeper"), (b"{\"db\": 1" + b"0" * 4000 + b"}", "digits"), (b"{\"db\": 1e400}", "too large"),
    (b"{\"db\": NaN}", "NaN"), (b"{\"db\": Infinity}", "Infinity"), (b"\xff{}", "UTF-8"),
    (b"{\"db\": 1, \"db\": 2}", "\"db\" is given twice"), (b"[1]", "must be a JSON object"), (b"{", "not JSON")])
def test_each_kind_of_bad_body_is_a_400_that_says_what_is_wrong(station, body, words):
    app, controller, _ = station
    status, _, data = call(app, "POST", "/api/volume", body)
    assert_refused(status, data)
    assert words in data["error"]
    assert controller.calls == []


def json_values(depth: int = 3):
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | \
        st.text(max_size=20)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "db", "length", "delay", "at", "days", "name", "origin", "x"]), inner, max_size=4),
        max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(POSTS), body=st.one_of(
    st.binary(max_size=200),
    json_values().map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["id", "db", "length", "delay", "at", "days", "name", "origin"]), json_values(),
                    max_size=5).map(lambda v: json.dumps(v).encode())))
def test_fuzzed_bodies_never_get_a_500(station, path, body):
    app, _, _ = station
    status, _, data = call(app, "POST", path, body)
    assert status < 500, (status, data, body)
    if status >= 400:
        assert_refused(status, data, status)


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_parse_body_returns_an_object_or_refuses_with_one_line(raw):
    from voiceguide.errors import UsageError

    try:
        data = parse_body(raw)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(data, dict)
    for value in data.values():
        if isinstance(value, float):
            assert math.isfinite(value)


# -- lengths ----------------------------------------------------------------------------


@pytest.mark.parametrize("length, words", [
    ("99999999999h", "cannot be reached"), ("4000m", "cannot be reached"), ("5", "5 means 5 seconds: did you mean 5m?"),
    (5, "5 means 5 seconds: did you mean 5m?"), (1, "did you mean 1m?"), (1e300, "cannot be reached")])
def test_a_length_the_exercise_cannot_last_is_422_with_what_it_can_last_before_anything_starts(
        station, length, words):
    app, controller, _ = station
    status, _, data = call(app, "POST", "/api/play", json.dumps({"id": "body-scan", "length": length}).encode())
    assert_refused(status, data, 422)
    assert words in data["error"] and "can last from" in data["error"] and "--length" not in data["error"]
    assert controller.calls == []


@pytest.mark.parametrize("length", ["15 parsecs", "-5m", "", "m", [15], {"m": 15}, True, -5, 0, "0s"])
def test_a_length_that_is_no_duration_is_400(station, length):
    app, controller, _ = station
    status, _, data = call(app, "POST", "/api/play", json.dumps({"id": "body-scan", "length": length}).encode())
    if length == "":   # empty means not given, as in --length ""
        assert status == 200 and controller.calls == [("play", ("body-scan", None, "api"))]
        return
    assert_refused(status, data, 400)
    assert "length" in data["error"] and controller.calls == []


@pytest.mark.parametrize("length, sent", [("15m", "15m"), (" 12m ", "12m"), (900, "900s"), ("900", "900s"),
                                          (720.5, "720.5s"), (None, None)])
def test_a_reachable_length_reaches_the_controller(station, length, sent):
    app, controller, _ = station
    status, _, data = call(app, "POST", "/api/play", json.dumps({"id": "body-scan", "length": length}).encode())
    assert status == 200, data
    assert controller.calls == [("play", ("body-scan", sent, "api"))]


@pytest.mark.parametrize("length, status, sent", [
    ("15m", 200, "15m"), (900, 200, "900s"), ("5", 422, None), (5, 422, None), ("99999999999h", 422, None),
    ([1], 400, None), ("soon", 400, None)])
def test_schedules_take_a_length_by_the_same_rule_as_play(station, length, status, sent):
    app, controller, added = station
    body = {"id": "body-scan", "at": "07:30", "length": length}
    got, _, data = call(app, "POST", "/api/schedules", json.dumps(body).encode())
    play, _, _ = call(app, "POST", "/api/play", json.dumps({"id": "body-scan", "length": length}).encode())
    assert got == play == status, data
    if status == 200:
        assert added == [(("body-scan", "07:30", None), {"length": sent})]
    else:
        assert added == [] and "length" in data["error"]


def test_an_unknown_exercise_with_a_length_is_still_a_404(monkeypatch):
    from voiceguide.errors import NotFoundError
    from voiceguide.station.app import check_reach

    assert check_reach("no-such-exercise", ("15m", 900.0)) == "15m"   # the controller says 404
    controller = FakeController()

    def play(ident, length=None, *, origin="api", **more):
        raise NotFoundError(f'no exercise "{ident}"')

    controller.play = play
    status, _, data = call(create_app(controller, TOKEN, hub=EventHub()), "POST", "/api/play",
                           json.dumps({"id": "no-such-exercise", "length": "15m"}).encode())
    assert_refused(status, data, 404)


# -- caching ----------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [("GET", "/api/state"), ("GET", "/api/exercises"), ("GET", "/api/log"),
                                          ("GET", "/api/schedules"), ("GET", "/"), ("GET", "/api/nothing"),
                                          ("POST", "/api/stop"), ("POST", "/api/volume")])
def test_every_private_answer_says_no_store(station, method, path, monkeypatch):
    from voiceguide.station import app as app_module

    monkeypatch.setattr(app_module, "recent_sessions", lambda limit=10: [])
    app, _, _ = station
    status, headers, _ = call(app, method, path, b"{}" if method == "POST" else b"")
    assert headers.get(b"cache-control") == b"no-store", (path, status, headers)
    # and without the token: the refusal is not cached either
    refused, headers, _ = call(create_app(FakeController(), "other-token-0123456789"), method, path)
    assert refused == 401 and headers.get(b"cache-control") == b"no-store"
