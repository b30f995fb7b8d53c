"""A small in-memory stand-in for the station's controller (mopidy's ``dummy_audio`` pattern).

The station's routes only ask the controller (state, exercises, play, the
keys, volume, prepare, listeners); :class:`FakeController` answers as an idle
station and records every call, so a route's tests run in-process, with no
process, socket, speech or sound, and a refused request can be shown never
to reach it. ``fail`` makes the next call raise (a library error, as the
real controller raises them: the app turns it into ``{"error": ...}``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

TOKEN = "t" * 43
STATE: Dict[str, Any] = {"state": "idle", "exercise": None, "title": None, "elapsed": 0.0, "duration": None,
                         "section": None, "text": None, "volume_db": 0.0}
KEYS = ("pause", "resume", "toggle", "next", "back", "stop")


class FakeController:
    """Records each call; answers the idle state."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, tuple]] = []
        self.fail: Optional[BaseException] = None
        self.listeners: List[Any] = []
        #: what GET /api/music answers (the music folder's pieces)
        self.pieces: List[Dict[str, Any]] = []

    def _raise(self) -> None:
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error

    def state(self) -> Dict[str, Any]:
        return dict(STATE)

    def exercises(self) -> List[Dict[str, Any]]:
        return [{"id": "body-scan", "title": "Body scan", "summary": "", "duration": 600.0}]

    def play(self, ident: str, length: Optional[str] = None, *, origin: str = "api",
             delay: Optional[float] = None, music: Optional[str] = None) -> Dict[str, Any]:
        self.calls.append(("play", (ident, length, origin)) + ((delay,) if delay else ())
                          + ((("music", music),) if music else ()))
        self._raise()
        return dict(STATE)

    def music(self) -> List[Dict[str, Any]]:
        return list(self.pieces)

    def change_volume(self, db: float) -> Dict[str, Any]:
        self.calls.append(("volume", (db,)))
        self._raise()
        return dict(STATE)

    def prepare(self, ids: list) -> None:
        self.calls.append(("prepare", tuple(ids)))

    def __getattr__(self, name: str):
        if name in KEYS:
            def key() -> Dict[str, Any]:
                self.calls.append((name, ()))
                self._raise()
                return dict(STATE)
            return key
        raise AttributeError(name)

    def add_listener(self, listener) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)
