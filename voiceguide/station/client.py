"""The station's client, for ``voiceguide ctl`` and the schedules' services.

Standard library only (``http.client``): ``ctl`` must start in a blink on a
Pi Zero, so it never imports Starlette, numpy or the audio stack.

The station is found from ``--station HOST:PORT`` or the file the station
writes when it starts (:mod:`voiceguide.station.address`); the token from
``VOICEGUIDE_STATION_TOKEN`` or the token file (:mod:`voiceguide.station.token`).

Whatever answers on that port is not trusted to be a station: an answer is
read up to :data:`MAX_ANSWER` bytes within :data:`DEADLINE` seconds, must be
JSON of the shape the request expects, and anything else is
:class:`BadAnswer` (exit 1, one line) -- never a traceback, never exit 0.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from voiceguide.errors import EXIT_RUNTIME, EXIT_USAGE, VoiceguideError
from voiceguide.station import address as where
from voiceguide.station.address import Address
from voiceguide.station.token import read_token

TIMEOUT = 10.0
#: The most a whole exchange may take (a server that trickles its answer is cut off).
DEADLINE = 30.0
#: The biggest answer read: a state is ~300 bytes, the exercise list a few KiB.
MAX_ANSWER = 1024 * 1024


class NoStationError(VoiceguideError):
    """No station answers (none started, or it stopped)."""

    exit_code = EXIT_RUNTIME


class StationError(VoiceguideError):
    """The station answered with an error; its one-line message is kept."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status
        # An unknown id or a bad argument is the caller's to fix; the rest is runtime.
        self.exit_code = EXIT_USAGE if status in (400, 404, 422) else EXIT_RUNTIME


class BadAnswer(VoiceguideError):
    """Something answered, but not as a voiceguide station does (too big, too slow, not its JSON)."""

    exit_code = EXIT_RUNTIME


def _no_station(detail: str) -> NoStationError:
    return NoStationError(f"no station is running{detail}; start one with `voiceguide station` "
                          f"(or `voiceguide station --install --enable` to keep one running)")


def find(station: Optional[str] = None) -> Address:
    """The station's address: *station* (``HOST:PORT``) or the one its file names."""
    if station:
        return where.parse_listen(station, "--station")
    found = where.read()
    if found is None:
        raise _no_station("")
    return found[0]


class Client:
    """JSON requests to one station, with its token."""

    def __init__(self, address: Address, token: Optional[str] = None, timeout: float = TIMEOUT):
        self.address = address
        self.timeout = timeout
        self._token = token

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = read_token()
            if not self._token:
                raise _no_station(" (there is no station token yet)")
        return self._token

    def request(self, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
        """(status, decoded JSON or None); :class:`NoStationError` when nothing answers.

        :class:`BadAnswer` when the answer is larger than :data:`MAX_ANSWER`
        or not complete within :data:`DEADLINE` seconds.
        """
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        payload = None
        if body is not None or method == "POST":
            payload = json.dumps(body if body is not None else {}).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self.address.connect_host, self.address.port, timeout=self.timeout)
        expired = threading.Event()
        opened: list = []

        def cut_off() -> None:   # the socket's timeout is per read; this bounds the whole exchange
            expired.set()
            for sock in opened:  # not conn.sock: an answer without a length takes the socket from conn
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        watchdog = threading.Timer(max(self.timeout, DEADLINE), cut_off)
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.connect()
            opened.append(conn.sock)
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = _read_bounded(response)
            status = response.status
        except (ConnectionRefusedError, socket.gaierror) as exc:
            detail = f" at {self.address}" + ("" if isinstance(exc, ConnectionRefusedError) else f" ({exc})")
            raise _no_station(detail) from None
        except (OSError, http.client.HTTPException) as exc:
            if expired.is_set():
                raise self._too_slow() from None
            raise NoStationError(f"the station at {self.address} did not answer ({exc}); "
                                 f"`journalctl --user -u voiceguide-station` may say why") from None
        finally:
            watchdog.cancel()
            conn.close()
        if expired.is_set():   # cut off: what was read ends early, and is not the answer
            raise self._too_slow()
        if raw is None:
            raise BadAnswer(f"the station at {self.address} answered with more than {MAX_ANSWER // 1024} KiB; "
                            f"a voiceguide station never does: is something else listening there?")
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            data = None
        return status, data

    def _too_slow(self) -> BadAnswer:
        return BadAnswer(f"the station at {self.address} did not finish its answer within "
                         f"{max(self.timeout, DEADLINE):.0f} s; is it a voiceguide station?")

    def call(self, method: str, path: str, body: Any = None, expect: type = dict) -> Any:
        """The decoded answer, an *expect*; :class:`StationError` with the station's message for 4xx/5xx.

        A success that is not JSON of the expected type is :class:`BadAnswer`.
        """
        status, data = self.request(method, path, body)
        if status >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            if status == 401:
                message = ("the station refused our token (it was made anew, or "
                           "VOICEGUIDE_STATION_TOKEN differs between the station and here)")
            if not isinstance(message, str):
                message = None
            said = _one_line(in_ctl_words(message) or "") if message else f"HTTP {status}"
            raise StationError(f"station: {said}", status)
        if not 200 <= status < 300 or not isinstance(data, expect):
            raise BadAnswer(f"the station at {self.address} sent an answer that is not a voiceguide station's "
                            f"(HTTP {status}, {_what(data)}); is something else listening there?")
        return data

    def state(self) -> dict:
        return _checked_state(self.call("GET", "/api/state"), self.address)

    def exercises(self) -> list:
        items = self.call("GET", "/api/exercises", expect=list)
        for item in items:
            if not (isinstance(item, dict) and isinstance(item.get("id"), str)
                    and isinstance(item.get("title"), str) and _number(item.get("duration"))):
                raise BadAnswer(f"the station at {self.address} sent an exercise list that is not a "
                                f"voiceguide station's; is something else listening there?")
        return items

    def play(self, exercise: str, length: Optional[str] = None, origin: str = "ctl",
             delay: Optional[float] = None, music: Optional[str] = None) -> dict:
        body: Dict[str, Any] = {"id": exercise, "origin": origin}
        if music:
            body["music"] = music
        if length:
            body["length"] = length
        if delay:
            body["delay"] = delay
        return _checked_state(self.call("POST", "/api/play", body), self.address)

    def music(self) -> list:
        """The pieces of the station's music folder: ``[{"name", "seconds"?}]``."""
        items = self.call("GET", "/api/music", expect=list)
        if not all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items):
            raise BadAnswer(f"the station at {self.address} sent a music list that is not a voiceguide "
                            f"station's; is something else listening there?")
        return items

    def action(self, name: str, body: Any = None) -> dict:
        """``pause``, ``resume``, ``toggle``, ``next``, ``back``, ``stop``, ``volume``."""
        return _checked_state(self.call("POST", f"/api/{name}", body), self.address)


def _read_bounded(response: http.client.HTTPResponse) -> Optional[bytes]:
    """The body, or None when it is larger than :data:`MAX_ANSWER` (the rest is never read)."""
    chunks: List[bytes] = []
    size = 0
    while size <= MAX_ANSWER:
        chunk = response.read1(64 * 1024) if hasattr(response, "read1") else response.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: The state's fields ``describe_state`` reads, and the types each may have.
_STATE_FIELDS = {"state": (str,), "exercise": (str, type(None)), "title": (str, type(None)),
                 "section": (str, type(None)), "text": (str, type(None)), "error": (str, type(None)),
                 "duration_text": (str, type(None))}
_STATE_NUMBERS = ("elapsed", "duration", "volume_db")


def _checked_state(data: Any, address: Address) -> dict:
    """*data* if it is a state object as the station sends it; :class:`BadAnswer` otherwise."""
    ok = isinstance(data, dict) and isinstance(data.get("state"), str) and all(
        isinstance(data.get(key), types) for key, types in _STATE_FIELDS.items() if key in data) and all(
        data.get(key) is None or _number(data.get(key)) for key in _STATE_NUMBERS)
    if not ok:
        raise BadAnswer(f"the station at {address} sent a state that is not a voiceguide station's "
                        f"({_what(data)}); is something else listening there?")
    return data


def _what(data: Any) -> str:
    return "no JSON" if data is None else f"JSON {type(data).__name__}"


def _one_line(text: str) -> str:
    """A station's message on one line, at most 300 characters, control characters made visible."""
    from voiceguide.visible import visible

    return visible(" ".join(text.split())[:300])


#: The API names its own requests in its messages; ``ctl`` says its commands instead.
CTL_WORDS = (("GET /api/exercises lists them", "`voiceguide ctl list` lists them"),
             ("(POST /api/play)", "(`voiceguide ctl play ID`)"))


def in_ctl_words(message: Optional[str]) -> Optional[str]:
    """*message* from the station with its HTTP words replaced by ``ctl``'s (each surface speaks its own)."""
    if message:
        for api, ctl in CTL_WORDS:
            message = message.replace(api, ctl)
    return message


def describe_state(state: dict) -> str:
    """One line for ``ctl status``: what a person glancing at it wants to know."""
    from voiceguide.script.units import format_duration

    from voiceguide.visible import visible

    if not isinstance(state, dict):
        return "the station sent an answer that is not a state"
    return visible(_state_line(state, format_duration))


def _state_line(state: dict, format_duration: Callable[[float], str]) -> str:
    kind = state.get("state", "?")
    volume = state.get("volume_db") or 0.0
    vol = f"  volume {volume:+.0f} dB" if abs(volume) >= 0.5 else ""
    if kind == "idle":
        error = f"  (last session: {state['error']})" if state.get("error") else ""
        return f"idle{vol}{error}"
    elapsed = format_duration(state.get("elapsed") or 0)
    total = state.get("duration_text") or (format_duration(state["duration"]) if state.get("duration") else "?")
    parts = [kind, state.get("title") or state.get("exercise") or "", f"{elapsed} / {total}"]
    starts_in = state.get("starts_in")
    if isinstance(starts_in, (int, float)) and not isinstance(starts_in, bool):   # the start delay
        parts[2] = f"starts in {format_duration(starts_in)}"   # "starting  Body scan  starts in 0:25"
    preparing = state.get("preparing")
    if isinstance(preparing, dict) and preparing.get("total"):
        parts.append(f"preparing speech ({preparing.get('done', 0)} of {preparing['total']})")
    if state.get("section"):
        parts.append(f"[{state['section']}]")
    if state.get("text"):
        parts.append(state["text"])
    return "  ".join(p for p in parts if p) + vol
