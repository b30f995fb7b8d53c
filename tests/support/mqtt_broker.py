"""A real MQTT broker for tests: Debian's mosquitto on a free loopback port, and a watching client.

The broker gets a generated config (no persistence: a restart forgets every
retained message, so what comes back after it was published again). Tests
skip with a reason where the mosquitto binary or paho-mqtt is missing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional

import pytest


def mosquitto() -> str:
    path = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if path is None:
        pytest.skip("no mosquitto broker here (Debian package mosquitto; ./run test installs it)")
    pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed (pip install 'voiceguide[mqtt]')")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """mosquitto on 127.0.0.1:PORT; :meth:`stop` and :meth:`start` again keep the port."""

    def __init__(self, folder: Path, users: Optional[dict] = None):
        self.binary = mosquitto()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        # as root, mosquitto would become the user "mosquitto", which cannot read a test's folder
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr",
                 f"user {pwd.getpwuid(os.getuid()).pw_name}",
                 "log_type error", "log_type warning", "log_type notice"]
        if users:
            passwords = folder / "passwords"
            passwords.write_text("")
            for user, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True,
                               capture_output=True)
            passwords.chmod(0o600)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: Optional[subprocess.Popen] = None
        self.log = folder / "mosquitto.log"

    def start(self) -> "Broker":
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start:\n{self.log.read_text()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class Message:
    topic: str
    payload: bytes
    retain: bool
    at: float

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8")


class Watcher:
    """A paho client of the test's own, subscribed to everything; it reconnects by itself."""

    def __init__(self, port: int, topics=("#",)):
        from paho.mqtt.client import CallbackAPIVersion, Client

        self.messages: List[Message] = []
        self.lock = threading.Lock()
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=f"test-watcher-{time.monotonic_ns()}")
        self.client.reconnect_delay_set(0.2, 0.5)
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe([(t, 1) for t in topics])
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append(Message(message.topic, bytes(message.payload), bool(message.retain),
                                         time.monotonic()))

    def publish(self, topic: str, payload: Any) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def wait_for(self, predicate: Callable[[Message], bool], timeout: float = 15.0, after: float = 0.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for m in self.messages:
                    if m.at >= after and predicate(m):
                        return m
            time.sleep(0.02)
        with self.lock:
            seen = [(m.topic, m.payload[:80]) for m in self.messages[-12:]]
        raise AssertionError(f"no such MQTT message in {timeout} s; the last ones: {seen}")

    def latest(self, topic: str) -> Optional[Message]:
        with self.lock:
            found = [m for m in self.messages if m.topic == topic]
        return found[-1] if found else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
