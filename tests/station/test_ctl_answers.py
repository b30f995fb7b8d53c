"""``voiceguide ctl`` against servers that are not a station: nonsense, huge, slow or silent answers.

Each server is a bare socket in a thread answering one fixed thing. The
client must exit 1 with one line, read no more than a state can be, and
never hang longer than its deadline.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Callable, List

import pytest

from voiceguide.station import client as client_module
from voiceguide.station.address import Address
from voiceguide.station.client import MAX_ANSWER, BadAnswer, Client, StationError

STATE = {"state": "idle", "exercise": None, "title": None, "elapsed": 0.0, "duration": None, "section": None,
         "text": None, "volume_db": 0.0}


class Server:
    """Accepts connections and hands each to *answer*; counts the bytes it managed to send."""

    def __init__(self, answer: Callable[[socket.socket], None]):
        self.answer = answer
        self.sent = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: List[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            self.answer(conn, self)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def fixed(status: str, body: bytes, ctype: str = "application/json"):
    def answer(conn, server):
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + body)
    return answer


def endless(conn, server):
    """200 with a body that never ends: 50 MB and more, as fast as the client takes it."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"state\": \"")
    block = b"x" * 65536
    while server.sent < 50 * 1024 * 1024:
        conn.sendall(block)
        server.sent += len(block)


def trickle(conn, server):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
    while True:
        conn.sendall(b" ")
        time.sleep(0.2)


def silent(conn, server):
    time.sleep(60)


@pytest.fixture()
def serve():
    servers: List[Server] = []

    def start(answer) -> Server:
        servers.append(Server(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def client(server: Server, timeout: float = 2.0) -> Client:
    return Client(Address("127.0.0.1", server.port), token="t" * 43, timeout=timeout)


@pytest.mark.parametrize("answer, words", [
    (fixed("200 OK", b"hello", "text/plain"), "no JSON"),
    (fixed("200 OK", b""), "no JSON"),
    (fixed("200 OK", b"[1, 2]"), "JSON list"),
    (fixed("200 OK", b"\"idle\""), "JSON str"),
    (fixed("200 OK", json.dumps({**STATE, "volume_db": "loud"}).encode()), "JSON dict"),
    (fixed("200 OK", json.dumps({**STATE, "state": 5}).encode()), "JSON dict"),
    (fixed("200 OK", json.dumps({**STATE, "title": ["x"]}).encode()), "JSON dict"),
    (fixed("200 OK", b"[" * 100000), "no JSON"),
    (fixed("302 Found", json.dumps(STATE).encode()), "HTTP 302"),
    (fixed("200 OK", b"\xff\xfe\x00"), "no JSON")])
def test_a_success_that_is_not_a_state_is_a_bad_answer(serve, answer, words):
    with pytest.raises(BadAnswer, match="is something else listening there") as caught:
        client(serve(answer)).state()
    assert words in str(caught.value) and "\n" not in str(caught.value) and caught.value.exit_code == 1


def test_an_answer_larger_than_a_state_can_be_is_not_read_whole(serve):
    server = serve(endless)
    start = time.monotonic()
    with pytest.raises(BadAnswer, match="more than 1024 KiB"):
        client(server).state()
    assert time.monotonic() - start < 5
    time.sleep(0.2)
    assert server.sent < 50 * 1024 * 1024          # the server could not push it all: we stopped reading


def test_an_answer_that_trickles_in_is_cut_off_at_the_deadline(serve, monkeypatch):
    monkeypatch.setattr(client_module, "DEADLINE", 1.5)
    start = time.monotonic()
    with pytest.raises(BadAnswer, match="did not finish its answer within 2 s"):
        client(serve(trickle), timeout=1.0).state()
    assert time.monotonic() - start < 4


def test_a_server_that_never_answers_is_no_station(serve):
    from voiceguide.station.client import NoStationError

    with pytest.raises(NoStationError, match="did not answer"):
        client(serve(silent), timeout=0.5).state()


def test_an_exercise_list_of_the_wrong_shape_is_a_bad_answer(serve):
    for body in ([{"id": 5, "title": "x", "duration": 1}], [{"id": "a", "title": "x", "duration": "long"}], ["a"],
                 {"id": "a"}):
        with pytest.raises(BadAnswer):
            client(serve(fixed("200 OK", json.dumps(body).encode()))).exercises()


def test_an_error_message_is_kept_to_one_line(serve):
    body = json.dumps({"error": "bad\nthing\x1b[2J " + "x" * 1000}).encode()
    with pytest.raises(StationError) as caught:
        client(serve(fixed("400 Bad Request", body))).state()
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400


@pytest.mark.parametrize("answer", [fixed("200 OK", b"nonsense", "text/plain"), endless])
def test_ctl_against_a_server_that_is_no_station_exits_1_with_one_line(serve, answer, tmp_path):
    server = serve(answer)
    env = dict(os.environ, VOICEGUIDE_STATION_TOKEN="t" * 43, XDG_STATE_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "voiceguide", "ctl", "--station", f"127.0.0.1:{server.port}",
                           "status"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1, done
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "is something else listening there" in done.stderr


def test_the_bound_is_what_a_state_can_be():
    assert MAX_ANSWER == 1024 * 1024
