"""The parent's side of the listener process: start it, read what it hears, end it.

``Listener(mic, on_heard=..., on_level=..., on_gone=...)`` starts
``voiceguide.listening.listener_process`` in a process of its own and reads its JSON
lines in a thread. With ``reference=True`` its stdin is a pipe for the
player's own output (:class:`voiceguide.listening.reference.ReferenceSender`),
which its echo canceller takes out of the microphone. Nothing of pocketsphinx is imported here. A microphone
that is missing or goes away: *on_gone* is called once with one line, the
process ends, and whoever started it goes on without voice commands.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any, Callable, List, Optional

from voiceguide.listening.commands import Candidate

Heard = Callable[[Candidate, float], None]


def worker_argv(mic: Any, reference: bool = False) -> List[str]:
    from voiceguide.synth.lifetime import boot_code

    args = {"mic": mic, "reference": True} if reference else {"mic": mic}
    return [sys.executable, "-c", boot_code("voiceguide.listening.listener_process"), json.dumps(args)]


class Listener:
    """The listener process and the thread that reads it (see the module docs)."""

    def __init__(self, mic: Any = None, *, on_heard: Optional[Heard] = None,
                 on_level: Optional[Callable[[float, float], None]] = None,
                 on_gone: Optional[Callable[[str], None]] = None,
                 on_ready: Optional[Callable[[str], None]] = None, reference: bool = False):
        self.mic = mic
        self.on_heard = on_heard
        self.on_level = on_level
        self.on_gone = on_gone
        self.on_ready = on_ready
        self.device: Optional[str] = None
        #: dB the echo canceller took out, each half second the player was heard (``reference=True``).
        self.cancelled: List[float] = []
        self._closing = False
        self._process = subprocess.Popen(worker_argv(mic, reference),
                                         stdin=subprocess.PIPE if reference else subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self._thread = threading.Thread(target=self._read, name="voiceguide-listener", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def reference_fd(self) -> Optional[int]:
        """The process's stdin, where the player's output goes for the echo canceller (``reference=True``)."""
        stdin = self._process.stdin
        return stdin.fileno() if stdin is not None else None

    def _read(self) -> None:
        said_gone = False
        stdout = self._process.stdout
        assert stdout is not None
        for line in stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "heard" in message and self.on_heard is not None:
                self.on_heard(Candidate.from_json(message["heard"]), float(message.get("end_at", 0.0)))
            elif "level" in message:
                if "cancelled" in message:
                    self.cancelled = self.cancelled[-99:] + [float(message["cancelled"])]
                if self.on_level is not None:
                    self.on_level(float(message["level"]), float(message.get("floor", -90.0)))
            elif "ready" in message:
                self.device = str(message["ready"])
                if self.on_ready is not None:
                    self.on_ready(self.device)
            elif "error" in message and not said_gone:
                said_gone = True
                self._gone(f"{message['error']}; going on without voice commands")
        self._process.wait()
        if not said_gone and not self._closing:
            self._gone("the listener stopped; going on without voice commands")

    def _gone(self, line: str) -> None:
        if self.on_gone is not None and not self._closing:
            self.on_gone(line)

    def close(self, wait: float = 2.0) -> None:
        """End the process (it holds nothing worth a grace: a microphone and a decoder)."""
        self._closing = True
        if self._process.stdin is not None:
            try:
                self._process.stdin.close()
            except OSError:
                pass  # a write in the reference thread may be failing on it at the same moment
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(wait)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._thread.join(wait)

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
