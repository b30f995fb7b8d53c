"""A real station for tests: ``voiceguide station`` in its own process, on a free loopback port.

The station is started as a person would start it (``--listen 127.0.0.1:0``
asks the system for a free port), with private config, state and runtime
folders; the test finds it through the file the station writes, as ``ctl``
does, and talks to it over a real socket with :mod:`http.client`.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from tests.support.scripts import THREE_STEPS

SHORT = "title: Short check\nsummary: Three short steps for the station tests.\n" + THREE_STEPS

BROKEN = """\
title: Broken
steps:
  - say: fine
  - pause: forever
"""


def write_scripts(config_home: Path) -> Path:
    folder = config_home / "voiceguide" / "scripts"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "short-check.yaml").write_text(SHORT)
    (folder / "broken.yaml").write_text(BROKEN)
    return folder


class Station:
    """One ``voiceguide station`` process; :meth:`request` speaks HTTP to it with its token."""

    def __init__(self, env: Dict[str, str], tmp: Path, *args: str, preexec_fn=None):
        self.env = dict(env)
        self.env.setdefault("XDG_STATE_HOME", str(tmp / "state"))
        self.env.setdefault("XDG_CONFIG_HOME", str(tmp / "config"))
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env.pop("VOICEGUIDE_STATION_TOKEN", None)
        self.config_home = Path(self.env["XDG_CONFIG_HOME"])
        write_scripts(self.config_home)
        self.log_path = tmp / f"station-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")
        self.where = Path(self.env["XDG_STATE_HOME"]) / "voiceguide" / "station.json"
        self.proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "station", "--listen", "127.0.0.1:0",
                                      "--no-gpio", *args],
                                     env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=preexec_fn)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the station ended at start-up:\n{self.log()}")
            if self.where.exists():
                info = json.loads(self.where.read_text())
                if info.get("pid") == self.proc.pid:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the station did not start:\n{self.log()}")
            time.sleep(0.05)
        self.port = info["port"]
        self.token = (self.config_home / "voiceguide" / "station-token").read_text().strip()

    def __enter__(self) -> "Station":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def idle(self) -> "Station":
        """Stop whatever plays and wait until the station says so (a shared station between tests)."""
        self.request("POST", "/api/stop")
        self.wait_for(lambda s: s["state"] == "idle")
        return self

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def request(self, method: str, path: str, body: Any = None, token: Optional[str] = "",
                raw: Optional[bytes] = None, headers: Optional[dict] = None) -> Tuple[int, Any]:
        """(status, decoded JSON or None); *token* "" means this station's, None means none."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token or self.token}"
        payload = raw
        if method == "POST" and body is None and raw is None:
            body = {}  # a change is a JSON POST, as `ctl` sends it (the station refuses others)
        if raw is not None:
            # a raw body is meant as JSON unless the test says otherwise: the
            # station refuses any other content type before reading a body
            sent.setdefault("Content-Type", "application/json")
        if body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=payload, headers=sent)
            response = conn.getresponse()
            data = response.read()
            self.last_headers = dict(response.getheaders())
            try:
                return response.status, json.loads(data) if data else None
            except ValueError:
                return response.status, data.decode("utf-8", "replace")
        finally:
            conn.close()

    def api(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.request(method, path, body)
        assert status == 200, (status, data, self.log()[-2000:])
        return data

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "state") -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.api("GET", "/api/state")
            if predicate(state):
                return state
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; last state {state}\n{self.log()[-3000:]}")

    def ctl(self, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "voiceguide", "ctl", *args], env=env or self.env,
                              capture_output=True, text=True, timeout=60)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


class EventReader:
    """Reads ``/api/events`` in a thread, keeping every state it sends."""

    def __init__(self, station: Station):
        self.states: List[Dict[str, Any]] = []
        self.lines: List[str] = []
        self._conn = http.client.HTTPConnection("127.0.0.1", station.port, timeout=60)
        self._conn.request("GET", "/api/events", headers={"Authorization": f"Bearer {station.token}",
                                                          "Accept": "text/event-stream"})
        self.response = self._conn.getresponse()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self.response:
                line = raw.decode("utf-8").rstrip("\r\n")
                self.lines.append(line)
                if line.startswith("data: "):
                    self.states.append(json.loads(line[6:]))
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed by the test (http.client drops its file then)

    def wait_for(self, predicate, timeout: float = 30.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for state in list(self.states):
                if predicate(state):
                    return state
            time.sleep(0.05)
        raise AssertionError(f"no such event; got {self.states[-5:]}")

    def close(self) -> None:
        self._conn.close()

    @property
    def ended(self) -> bool:
        return not self._thread.is_alive()
