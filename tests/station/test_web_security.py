"""The rules that make the station safe to open to a home network, each over a real socket.

A real ``voiceguide station`` process on a free loopback port, playing into a
private PulseAudio null sink; every request is sent with :mod:`http.client`
or a bare socket, the way a browser, ``curl`` or an attacker's page would
send it. Where a rule says "refused", the test also checks that nothing
happened (no session started, no schedule written), and sends the allowed
twin of the request to show it would have worked.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.audio_env import PulseNullSink
from tests.support.station_env import Station

pytestmark = pytest.mark.audio


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    with PulseNullSink(tmp_path_factory.mktemp("web-pulse")) as sink:
        yield sink


@pytest.fixture(scope="module")
def station(pulse, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web-station")
    config = tmp / "config" / "voiceguide"
    config.mkdir(parents=True)
    (config / "config.toml").write_text('[station]\nhosts = ["pi.home.arpa"]\n')
    with Station(dict(pulse.env, XDG_CONFIG_HOME=str(tmp / "config")), tmp) as s:
        yield s


@pytest.fixture()
def idle(station):
    yield station.idle()
    station.request("POST", "/api/stop")


def raw_http(port: int, data: bytes, timeout: float = 10.0) -> tuple:
    """Send bytes as they are; (status, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    answer = b"".join(chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def get(station: Station, path: str, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", station.port, timeout=20)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def starts(station: Station) -> int:
    """How many sessions the station has started (its log says "start: TITLE" for each)."""
    return station.log().count("start: ")


def started_one_more(station: Station, before: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if starts(station) > before:
            return True
        time.sleep(0.05)
    return False


# -- the token, the cookie and the pairing address -------------------------------------


def test_the_pairing_address_swaps_the_token_for_a_strict_httponly_cookie(idle):
    status, headers, body = get(idle, f"/?token={idle.token}")
    assert status == 303
    assert headers["location"] == "/"                       # the token leaves the address bar
    cookie = headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    assert name == "voiceguide_token" and rest.split(";")[0] == idle.token
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path"} <= attributes and "samesite=strict" in cookie.lower()
    assert headers["referrer-policy"] == "no-referrer"
    # the cookie is the key to the API, as the page uses it
    status, _, body = get(idle, "/api/state", {"Cookie": f"voiceguide_token={idle.token}"})
    assert status == 200 and json.loads(body)["state"] == "idle"
    status, _, _ = get(idle, "/api/state", {"Cookie": "voiceguide_token=guess"})
    assert status == 401


def test_a_wrong_pairing_address_sets_no_cookie_and_says_how_to_pair(idle):
    status, headers, body = get(idle, "/?token=not-the-token")
    assert status == 401 and "set-cookie" not in headers
    assert b"voiceguide station --pairing" in body


def test_the_page_needs_the_token_too_and_says_how_to_pair(idle):
    for path in ("/", "/static/app.js", "/static/style.css"):
        status, headers, body = get(idle, path)
        assert status == 401, path
        assert b"voiceguide station --pairing" in body and "set-cookie" not in headers
        csp = headers["content-security-policy"]   # the pairing page: its own inline style by hash, no script
        assert "default-src 'none'" in csp and "style-src 'sha256-" in csp and "unsafe-inline" not in csp
        assert "script-src" not in csp
        assert headers["x-frame-options"] == "DENY"
    status, _, body = get(idle, "/", headers={"Authorization": f"Bearer {idle.token}"})
    assert status == 200 and b"<main>" in body
    status, _, body = get(idle, "/static/app.js", headers={"Cookie": f"voiceguide_token={idle.token}"})
    assert status == 200 and b"EventSource" in body
    for path in ("/api/state", "/api/exercises", "/api/events", "/api/schedules", "/api/log",
                 f"/api/state?token={idle.token}"):       # a token in the query opens nothing but /
        assert get(idle, path)[0] == 401, path


# -- Host header: DNS rebinding ------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "localhost.evil.example",
                                  "127.0.0.1.nip.io", "pi.home.arpa.evil.example", "", "[::1"])
def test_a_host_that_is_not_this_machine_is_refused(idle, host):
    before = starts(idle)
    status, data = idle.request("POST", "/api/play", body={"id": "short-check"}, headers={"Host": host})
    assert status == 400 and "Host" in data["error"]
    assert get(idle, "/", {"Host": host})[0] == 400        # the page too: nothing to read for a rebinder
    assert starts(idle) == before


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]:8765", "LOCALHOST",
                                  socket.gethostname(), "pi.home.arpa", "192.168.1.20:8765"])
def test_names_and_addresses_of_this_machine_are_answered(idle, host):
    status, data = idle.request("GET", "/api/state", headers={"Host": host})
    assert status == 200, data


def test_a_request_without_a_host_header_is_refused(idle):
    status, body = raw_http(idle.port, b"GET /api/state HTTP/1.0\r\nAuthorization: Bearer "
                            + idle.token.encode() + b"\r\n\r\n")
    assert status == 400 and b"Host" in body


# -- state changes: JSON POSTs only ---------------------------------------------------------


@pytest.mark.parametrize("ctype, payload", [
    ("application/x-www-form-urlencoded", b"id=short-check"),
    ("multipart/form-data; boundary=x",
     b'--x\r\nContent-Disposition: form-data; name="id"\r\n\r\nshort-check\r\n--x--\r\n'),
    ("text/plain", b'{"id": "short-check"}'),          # the form trick for smuggling JSON
    ("", b'{"id": "short-check"}'),
])
def test_a_form_post_changes_nothing(idle, ctype, payload):
    before = starts(idle)
    headers = {"Content-Type": ctype} if ctype else {}
    conn = http.client.HTTPConnection("127.0.0.1", idle.port, timeout=20)
    conn.request("POST", "/api/play", body=payload,
                 headers={"Authorization": f"Bearer {idle.token}", **headers})
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    assert response.status == 415 and "JSON" in data["error"]
    time.sleep(0.3)
    assert starts(idle) == before and idle.api("GET", "/api/state")["state"] == "idle"
    # the same request as JSON does start it
    assert idle.request("POST", "/api/play", body={"id": "short-check"})[0] == 200
    assert started_one_more(idle, before)


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site"}])
def test_a_change_asked_for_by_another_site_is_refused(idle, headers):
    before = starts(idle)
    status, data = idle.request("POST", "/api/play", body={"id": "short-check"}, headers=headers)
    assert status == 403 and "another web site" in data["error"]
    assert starts(idle) == before
    same = {"Origin": f"http://127.0.0.1:{idle.port}", "Sec-Fetch-Site": "same-origin"}
    assert idle.request("POST", "/api/volume", body={"db": 0}, headers=same)[0] == 200


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_refused(idle, method):
    status, data = idle.request(method, "/api/schedules/remove", body={"name": "x"})
    assert status == 405 and "POST" in data["error"]


# -- ids, paths and files --------------------------------------------------------------------


def test_an_exercise_is_an_id_from_the_catalog_never_a_path(idle, tmp_path):
    script = idle.config_home / "voiceguide" / "scripts" / "short-check.yaml"
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(script.read_text())
    before = starts(idle)
    for ident in (str(outside), str(script), "short-check.yaml", "../scripts/short-check",
                  "./short-check", "/etc/passwd", "..", "scripts/short-check"):
        status, data = idle.request("POST", "/api/play", body={"id": ident})
        assert status == 404, (ident, data)
        status, data = idle.request("POST", "/api/schedules", body={"id": ident, "at": "07:30"})
        assert status == 404, (ident, data)
    assert starts(idle) == before
    assert not list((idle.config_home / "systemd").glob("**/*.timer"))


@pytest.mark.parametrize("path", ["/static/../../../../etc/passwd", "/static/%2e%2e/security.py",
                                  "/static/..%2fsecurity.py", "/static/__init__.py", "/static/",
                                  "/static/index.html/..", "/security.py", "/static/app.js%00.txt"])
def test_only_the_page_files_are_served(idle, path):
    status, body = raw_http(idle.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            f"Authorization: Bearer {idle.token}\r\nConnection: close\r\n\r\n".encode())
    assert status in (400, 404), (path, status)
    assert b"import" not in body and b"root:" not in body


def test_the_page_files_are_served_with_their_types(idle):
    for path, kind in (("/", "text/html"), ("/static/app.js", "text/javascript"),
                       ("/static/style.css", "text/css")):
        status, headers, body = get(idle, path, {"Cookie": f"voiceguide_token={idle.token}"})
        assert status == 200 and headers["content-type"].startswith(kind) and body
        assert headers["x-content-type-options"] == "nosniff"


# -- bodies ----------------------------------------------------------------------------------


def test_a_body_over_the_cap_is_refused_declared_or_streamed(idle):
    big = b'{"id": "' + b"x" * 20000 + b'"}'
    status, data = idle.request("POST", "/api/play", raw=big)
    assert status == 413 and "larger than" in data["error"]
    # no Content-Length: chunks that pass the cap part-way
    chunk = b"{" + b" " * 9000
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (chunk, chunk, b"}")) + b"0\r\n\r\n"
    status, answer = raw_http(idle.port, b"POST /api/volume HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Authorization: Bearer " + idle.token.encode() + b"\r\n"
                              b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                              b"Connection: close\r\n\r\n" + body)
    assert status == 413 and b"larger than" in answer


# -- bad tokens are slowed down ----------------------------------------------------------------


def test_repeated_bad_tokens_from_one_address_are_slowed_down(idle):
    times = []
    for i in range(8):
        t0 = time.monotonic()
        status, _ = idle.request("GET", "/api/state", token=f"guess-{i}")
        times.append(time.monotonic() - t0)
        assert status == 401
    assert max(times[:5]) < 0.2, times           # a mistyped token or two costs nothing
    assert times[5] >= 0.2 and times[6] >= 0.45 and times[7] >= 0.95, times
    t0 = time.monotonic()
    assert idle.request("GET", "/api/state")[0] == 200
    assert time.monotonic() - t0 < 0.2           # the right token is never slowed
    t0 = time.monotonic()
    assert idle.request("GET", "/api/state", token="guess")[0] == 401
    assert time.monotonic() - t0 < 0.2           # and it clears the run


# -- the token stays out of logs; a new one locks old phones out -------------------------------


def test_the_token_is_never_logged(idle):
    get(idle, f"/?token={idle.token}")
    get(idle, "/?token=wrong-guess-123")
    idle.request("GET", "/api/state", token="wrong-guess-456")
    idle.request("POST", "/api/play", body={"id": idle.token})
    log = idle.log()
    assert idle.token not in log
    assert "wrong-guess-123" not in log and "wrong-guess-456" not in log


def test_new_token_replaces_it_at_once(pulse, tmp_path):
    station = Station(pulse.env, tmp_path)
    try:
        old = station.token
        status, headers, _ = get(station, f"/?token={old}")
        cookie = headers["set-cookie"].split(";")[0]
        assert get(station, "/api/state", {"Cookie": cookie})[0] == 200
        done = subprocess.run([sys.executable, "-m", "voiceguide", "station", "--new-token"], env=station.env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "running station uses it" in done.stdout and "--pairing" in done.stdout
        path = station.config_home / "voiceguide" / "station-token"
        new = path.read_text().strip()
        assert new != old and new not in done.stdout
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert get(station, "/api/state", {"Cookie": cookie})[0] == 401     # the old phone
        assert station.request("GET", "/api/state", token=old)[0] == 401
        assert station.request("GET", "/api/state", token=new)[0] == 200
        status, headers, _ = get(station, f"/?token={new}")
        assert status == 303 and new in headers["set-cookie"]
    finally:
        station.stop()


def test_new_token_is_refused_while_the_environment_sets_it(tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), VOICEGUIDE_STATION_TOKEN="from-env")
    done = subprocess.run([sys.executable, "-m", "voiceguide", "station", "--new-token"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "VOICEGUIDE_STATION_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


# -- the pairing address and its QR code ---------------------------------------------------------


def decode_terminal_qr(text: str, tmp: Path) -> str:
    """Read a QR code drawn with half blocks back into pixels, and let zbarimg decode it."""
    import numpy as np

    rows = [line for line in text.splitlines() if line and set(line) <= set("█▀▄ ")]
    width = max(len(r) for r in rows)
    top = {"█": 1, "▀": 1, "▄": 0, " ": 0}
    bottom = {"█": 1, "▀": 0, "▄": 1, " ": 0}
    light = np.zeros((2 * len(rows), width), dtype=np.uint8)
    for y, row in enumerate(rows):
        for x, ch in enumerate(row.ljust(width)):
            light[2 * y, x], light[2 * y + 1, x] = top[ch], bottom[ch]
    # blocks are the light modules (right on a dark terminal); scale up, add a quiet zone
    image = np.kron(np.where(light == 1, 255, 0).astype(np.uint8), np.ones((8, 8), np.uint8))
    image = np.pad(image, 32, constant_values=255)
    pgm = tmp / "qr.pgm"
    pgm.write_bytes(b"P5 %d %d 255\n" % (image.shape[1], image.shape[0]) + image.tobytes())
    if not Path("/usr/bin/zbarimg").exists():
        pytest.skip("zbar-tools is not installed (./run test installs it)")
    done = subprocess.run(["zbarimg", "--raw", "-q", str(pgm)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_listening_beyond_loopback_prints_the_pairing_address_and_a_qr_code_on_a_terminal(pulse, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    from voiceguide.station.pairing import lan_addresses

    env = dict(pulse.env, XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"),
               PYTHONUNBUFFERED="1")
    env.pop("VOICEGUIDE_STATION_TOKEN", None)
    child = pexpect.spawn(sys.executable, ["-m", "voiceguide", "station", "--listen", "0.0.0.0:0", "--no-gpio"],
                          env=env, encoding="utf-8", timeout=60, dimensions=(60, 120))
    try:
        child.expect(r"replaces it\.")
        shown = child.before
    finally:
        child.kill(15)
        child.close()
    token = (tmp_path / "config" / "voiceguide" / "station-token").read_text().strip()
    url = re.search(r"http://\S+\?token=\S+", shown).group(0)
    host = url.split("//")[1].split(":")[0]
    assert host in lan_addresses() and url.endswith(f"/?token={token}")
    assert decode_terminal_qr(shown, tmp_path) == url


def test_without_a_terminal_the_pairing_address_stays_out_of_the_log(pulse, tmp_path):
    station = Station(pulse.env, tmp_path, "--listen", "0.0.0.0:0")
    try:
        time.sleep(0.5)
        log = station.log()
        assert "voiceguide station --pairing" in log
        assert station.token not in log
        # and --pairing, asked for, prints it (with the running station's port)
        done = subprocess.run([sys.executable, "-m", "voiceguide", "station", "--pairing"], env=station.env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f":{station.port}/?token={station.token}" in done.stdout
    finally:
        station.stop()
