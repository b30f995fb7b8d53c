"""The station as a real process under pressure: silent and slow sockets, a low descriptor limit, a rival.

``voiceguide station`` runs in its own process on a free loopback port
(no sound is played: the station stays idle), and the sockets are bare
sockets, sending what an attacker or a broken client would send. The
figures for 500 idle sockets under a 256-descriptor limit are measured by
``benchmarks/idle_sockets.py``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from typing import List, Optional

import pytest

from tests.support.station_env import Station
from voiceguide.station.connections import REQUEST_TIMEOUT


def closed_within(sock: socket.socket, seconds: float) -> Optional[float]:
    """Seconds until the station closed *sock* (reading whatever it answered), or None if it did not."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except OSError:   # reset: closed too
            return time.monotonic() - start
    return None


def owner_answered(station: Station, timeout: float = 5.0) -> float:
    """Seconds the owner's ``GET /api/state`` took on a new connection (it must be a 200)."""
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", station.port, timeout=timeout)
    try:
        conn.request("GET", "/api/state", headers={"Authorization": f"Bearer {station.token}"})
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["state"] == "idle"
    finally:
        conn.close()
    return time.monotonic() - start


def connect(port: int, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if data:
        sock.sendall(data)
    return sock


def new_log_lines(station: Station, before: str) -> List[str]:
    return [line for line in station.log()[len(before):].splitlines() if line.strip()]


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pressure")
    with Station(dict(os.environ), tmp) as s:
        yield s


@pytest.mark.slow
def test_connections_that_never_finish_a_request_are_closed_and_a_real_one_is_not(station):
    before = station.log()
    head = f"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {station.token}\r\n".encode()
    stop = threading.Event()

    def drip(sock: socket.socket, data: bytes) -> None:
        """A byte every half second: each one would reset uvicorn's own keep-alive timer."""
        for byte in data * 100:
            if stop.is_set():
                return
            try:
                sock.send(bytes([byte]))
            except OSError:
                return
            time.sleep(0.5)

    kept_alive = connect(station.port, head + b"\r\n")   # a whole request; then a byte a second
    kept_alive.settimeout(5)
    assert b"200 OK" in kept_alive.recv(65536)
    slow = {
        "silent": connect(station.port),
        "half a header": connect(station.port, head),
        "a header a byte at a time": connect(station.port),
        "half a body": connect(station.port, b"POST /api/volume HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                             b"Authorization: Bearer " + station.token.encode() +
                                             b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                                             b"{\"db\": "),
        "kept alive, then a byte at a time": kept_alive,
    }
    drippers = [threading.Thread(target=drip, args=(slow["a header a byte at a time"], head), daemon=True),
                threading.Thread(target=drip, args=(kept_alive, head), daemon=True)]
    for thread in drippers:
        thread.start()
    events = http.client.HTTPConnection("127.0.0.1", station.port, timeout=60)
    events.request("GET", "/api/events", headers={"Authorization": f"Bearer {station.token}"})
    stream = events.getresponse()
    assert stream.status == 200
    assert stream.readline().startswith(b"retry:") and stream.readline().startswith(b"data:")
    try:
        results = {}
        limit = REQUEST_TIMEOUT + 5
        threads = [threading.Thread(target=lambda k=k, s=s: results.__setitem__(k, closed_within(s, limit)))
                   for k, s in slow.items()]
        for thread in threads:
            thread.start()
        time.sleep(1)
        assert owner_answered(station) < 1.0   # answered while they hang on
        for thread in threads:
            thread.join()
        for name, after in results.items():
            assert after is not None, f"{name}: still open after {limit} s"
            assert REQUEST_TIMEOUT - 1.5 <= after <= REQUEST_TIMEOUT + 3, (name, after)
        # the event stream is an answer in progress, not a client owing a request: it stays
        station.api("POST", "/api/volume", {"db": -1})
        lines = []
        while not any(b'"volume_db": -1' in line for line in lines) and len(lines) < 20:
            lines.append(stream.readline())   # past the blank lines and ": still here" comments
        assert any(b'"volume_db": -1' in line for line in lines), lines
        station.api("POST", "/api/volume", {"db": 1})
        assert owner_answered(station) < 1.0
    finally:
        stop.set()
        events.close()
        for sock in slow.values():
            sock.close()
    lines = new_log_lines(station, before)
    assert "Traceback" not in "\n".join(lines)
    assert len([line for line in lines if "no whole request" in line]) == 1, lines


@pytest.mark.slow
def test_hundreds_of_idle_sockets_under_a_low_descriptor_limit_leave_the_owner_answered(tmp_path):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    with Station(dict(os.environ), tmp_path, preexec_fn=limit) as station:
        before = station.log()
        socks = []
        try:
            for i in range(400):   # more than the descriptor limit: silent, half a header, a refused token
                data = [b"", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                        b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\n\r\n"][i % 3]
                socks.append(connect(station.port, data))
            time.sleep(0.5)
            took = [owner_answered(station) for _ in range(5)]
            assert max(took) < 1.0, took
            done = station.ctl("status")
            assert done.returncode == 0 and done.stdout.startswith("idle"), done.stdout + done.stderr
            fds = len(os.listdir(f"/proc/{station.proc.pid}/fd"))
            assert fds < 256 - 32, fds
        finally:
            for sock in socks:
                sock.close()
        assert station.proc.poll() is None
        lines = new_log_lines(station, before)
        assert "Traceback" not in "\n".join(lines) and "Too many open files" not in "\n".join(lines)
        assert 1 <= len(lines) <= 3, lines   # "N connections are open ...", once


def test_hostile_bodies_over_a_real_socket_are_400_and_private_answers_say_no_store(station):
    for raw in (b"[" * 5000, b"{\"db\": 1" + b"0" * 4000 + b"}", b"{\"db\": NaN}", b"\xff\xfe"):
        status, data = station.request("POST", "/api/volume", raw=raw)
        assert status == 400 and set(data) == {"error"}, (status, data)
    status, data = station.request("POST", "/api/play", {"id": "short-check", "length": "99999999999h"})
    assert status == 422 and "can last from" in data["error"], data
    status, data = station.request("POST", "/api/play", {"id": "short-check", "length": 5})
    assert status == 422 and "did you mean 5m?" in data["error"], data
    assert station.api("GET", "/api/state")["state"] == "idle"
    for path in ("/api/state", "/api/log", "/api/exercises", "/"):
        station.request("GET", path)
        assert station.last_headers.get("cache-control") == "no-store", (path, station.last_headers)


def test_a_second_station_names_the_first_and_leaves_its_address_file_alone(station):
    where = station.where.read_text()
    second = subprocess.run([sys.executable, "-m", "voiceguide", "station", "--listen", "127.0.0.1:0", "--no-gpio"],
                            env=station.env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 1, second.stdout + second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert re.search(rf"a station already runs \(pid {station.proc.pid}, at http://127\.0\.0\.1:{station.port}\)",
                     lines[0]), lines
    assert station.where.read_text() == where
    done = station.ctl("status")
    assert done.returncode == 0 and done.stdout.startswith("idle"), done.stderr


def test_once_a_station_stops_another_may_start(tmp_path):
    env = dict(os.environ)
    with Station(env, tmp_path) as first:
        owner_answered(first)   # serving (and so handling SIGTERM), not only started
    assert first.proc.returncode == 0 and not first.where.exists()
    with Station(env, tmp_path) as second:
        assert owner_answered(second) < 1.0


def test_a_short_token_from_the_environment_stops_the_station_with_one_line(tmp_path):
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               VOICEGUIDE_STATION_TOKEN="x")
    done = subprocess.run([sys.executable, "-m", "voiceguide", "station", "--listen", "127.0.0.1:0", "--no-gpio"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "voiceguide: the station token (VOICEGUIDE_STATION_TOKEN) is 1 character long; it needs at least 16: "
        "set VOICEGUIDE_STATION_TOKEN to a longer one, or unset it to use the token file"]
    assert not (tmp_path / "state" / "voiceguide" / "station.json").exists()
