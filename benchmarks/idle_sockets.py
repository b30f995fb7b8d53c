"""The station under 500 idle sockets with a 256-descriptor limit: is its owner still answered?

``voiceguide station --listen 127.0.0.1:0 --no-gpio`` runs with
``RLIMIT_NOFILE`` set to 256 (``resource.setrlimit`` before it starts, as
``ulimit -n 256`` would), private config, state and cache folders. No
sound is played. Then, from this process:

* **baseline**: ``GET /api/state`` with the token on a new connection each
  time (as ``ctl`` makes one), ``--requests`` (20) times.
* **500 idle sockets**, opened as fast as they connect, in four kinds: silent,
  half a request head, a request head sent a byte a second (one thread
  drips into all of those), and a whole request with a wrong token (slowed
  down by the guard). More sockets than the station has descriptors.
* **owner under load**: the same ``GET /api/state`` while the 500 are held
  open, and the wall time of ``voiceguide ctl status``. Target: every
  answer within 1 s.
* **descriptors**: the station's open descriptors (``/proc/PID/fd``), peak
  while the sockets were opened and held, against the limit of 256.
* **deadline**: how many of the 375 that never finish a request (silent,
  half a head, dripping) the station has closed after its request deadline
  (10 s) plus 3 s. The 125 wrong-token ones are answered 401 after their
  slow-down, 429 once the slow-down queue passes a minute, or closed to make
  room; those still waiting out their slow-down are left open by design.
* **log**: lines the station wrote meanwhile, and tracebacks among them.
  Before issue 17 the same load (300 sockets) wrote ~700,000 lines (71,000
  tracebacks) in 8 s and the owner was never answered.

Exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

LIMIT = 256
TARGET = 1.0


def limit_descriptors() -> None:
    """In the station's child process, before exec: ``ulimit -n 256``."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


def owner_request(port: int, token: str) -> float:
    """Seconds for ``GET /api/state`` on a new connection (raises unless 200)."""
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/state", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
    finally:
        conn.close()
    return time.monotonic() - start


def owner_figures(port: int, token: str, count: int) -> List[float]:
    took = []
    for _ in range(count):
        try:
            took.append(owner_request(port, token))
        except (OSError, RuntimeError, http.client.HTTPException):
            took.append(float("inf"))
        time.sleep(0.05)
    return took


def describe(took: List[float]) -> str:
    if any(t == float("inf") for t in took):
        return f"{sum(t == float('inf') for t in took)} of {len(took)} unanswered"
    return f"median {statistics.median(took) * 1000:.1f} ms, worst {max(took) * 1000:.1f} ms ({len(took)})"


class Watch:
    """Samples a process's open descriptors until stopped; keeps the peak."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(0.002)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def open_idle(port: int, count: int, stop: threading.Event) -> Tuple[List[socket.socket], float]:
    """*count* idle sockets of four kinds; (sockets, seconds to open them)."""
    head = b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n"
    kinds = [b"", head, None, b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\n\r\n"]
    socks, drip = [], []
    start = time.monotonic()
    for i in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            continue
        data = kinds[i % 4]
        try:
            if data is None:
                drip.append(sock)
            elif data:
                sock.sendall(data)
        except OSError:
            pass
        socks.append(sock)
    took = time.monotonic() - start

    def dripping() -> None:
        for n in range(10 ** 6):
            if stop.wait(1.0):
                return
            for sock in drip:
                try:
                    sock.send(head[n % len(head):n % len(head) + 1])
                except OSError:
                    pass

    threading.Thread(target=dripping, daemon=True).start()
    return socks, took


def closed(sock: socket.socket) -> bool:
    """Whether the station has closed *sock* (an answer, if any, read and dropped)."""
    sock.setblocking(False)
    try:
        while True:
            if sock.recv(65536) == b"":
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    benchlib.audio_env()   # puts the checkout on sys.path for tests.support
    from tests.support.station_env import Station
    from voiceguide.station.connections import REQUEST_TIMEOUT, connection_cap

    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"), XDG_DATA_HOME=str(tmp / "data"))
        with Station(env, tmp, preexec_fn=limit_descriptors) as station:
            deadline = time.monotonic() + 60   # let its start-up preparation of speech finish first
            while "prepared" not in station.log() and time.monotonic() < deadline:
                time.sleep(0.2)
            idle_fds = Watch(station.proc.pid).now()
            base = owner_figures(station.port, station.token, args.requests)
            results.append(("owner GET /api/state, idle", describe(base), "", ""))
            log_before = len(station.log())
            watch = Watch(station.proc.pid)
            stop = threading.Event()
            socks, opened = open_idle(station.port, args.sockets, stop)
            results.append((f"{args.sockets} idle sockets opened", f"{len(socks)} in {opened:.2f} s", "", ""))
            loaded = owner_figures(station.port, station.token, args.requests)
            print("  owner under load, ms:", " ".join(f"{t * 1000:.0f}" for t in loaded))
            ok = all(t <= TARGET for t in loaded)
            results.append((f"owner GET /api/state, {len(socks)} idle sockets open", describe(loaded),
                            "<= 1 s each", benchlib.verdict(ok)))
            ctl = []
            for _ in range(3):
                start = time.monotonic()
                done = station.ctl("status")
                ctl.append(time.monotonic() - start if done.returncode == 0 else float("inf"))
                if done.returncode != 0:
                    print("  ctl status:", done.stderr.strip()[-300:])
            results.append(("voiceguide ctl status, same load", describe(ctl), "", ""))
            time.sleep(REQUEST_TIMEOUT + 3)
            unfinished = [s for i, s in enumerate(socks) if i % 4 != 3]
            shut = sum(closed(s) for s in unfinished)
            peak = watch.stop()
            stop.set()
            results.append(("station descriptors: idle / peak under load", f"{idle_fds} / {peak} "
                            f"(cap {connection_cap(LIMIT)} connections)", f"< {LIMIT}",
                            benchlib.verdict(peak < LIMIT)))
            results.append((f"unfinished requests closed {REQUEST_TIMEOUT + 3:.0f} s later",
                            f"{shut} of {len(unfinished)}", "all", benchlib.verdict(shut == len(unfinished))))
            for sock in socks:
                sock.close()
            after = owner_figures(station.port, station.token, 5)
            results.append(("owner GET /api/state, afterwards", describe(after), "", ""))
            lines = [line for line in station.log()[log_before:].splitlines() if line.strip()]
            tracebacks = sum("Traceback" in line for line in lines)
            results.append(("station log lines written meanwhile", f"{len(lines)} ({tracebacks} tracebacks)",
                            "a few, none", benchlib.verdict(len(lines) <= 5 and tracebacks == 0)))
            for line in lines:
                print("  log:", line)
    print(benchlib.machine())
    print(benchlib.table(["figure", "measured", "target", ""], results))


if __name__ == "__main__":
    main()
