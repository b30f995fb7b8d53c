"""The station's client, for ``voiceguide ctl`` and the schedules' services.

Standard library only (``http.client``): ``ctl`` must start in a blink on a
Pi Zero, so it never imports Starlette, numpy or the audio stack.

The station is found from ``--station HOST:PORT`` or the file the station
writes when it starts (:mod:`voiceguide.station.address`); the token from
``VOICEGUIDE_STATION_TOKEN`` or the token file (:mod:`voiceguide.station.token`).
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any, Optional, Tuple

from voiceguide.errors import EXIT_RUNTIME, EXIT_USAGE, VoiceguideError
from voiceguide.station import address as where
from voiceguide.station.address import Address
from voiceguide.station.token import read_token

TIMEOUT = 10.0


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
        """(status, decoded JSON); :class:`NoStationError` when nothing answers."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        payload = None
        if body is not None or method == "POST":
            payload = json.dumps(body if body is not None else {}).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self.address.connect_host, self.address.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            status = response.status
        except (ConnectionRefusedError, socket.gaierror) as exc:
            detail = f" at {self.address}" + ("" if isinstance(exc, ConnectionRefusedError) else f" ({exc})")
            raise _no_station(detail) from None
        except (OSError, http.client.HTTPException) as exc:
            raise NoStationError(f"the station at {self.address} did not answer ({exc}); "
                                 f"`journalctl --user -u voiceguide-station` may say why") from None
        finally:
            conn.close()
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            data = None
        return status, data

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded answer; :class:`StationError` with the station's message for 4xx/5xx."""
        status, data = self.request(method, path, body)
        if status >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            if status == 401:
                message = ("the station refused our token (it was made anew, or "
                           "VOICEGUIDE_STATION_TOKEN differs between the station and here)")
            raise StationError(f"station: {in_ctl_words(message) or f'HTTP {status}'}", status)
        return data

    def state(self) -> dict:
        return self.call("GET", "/api/state")

    def exercises(self) -> list:
        return self.call("GET", "/api/exercises")

    def play(self, exercise: str, length: Optional[str] = None, origin: str = "ctl") -> dict:
        body = {"id": exercise, "origin": origin}
        if length:
            body["length"] = length
        return self.call("POST", "/api/play", body)

    def action(self, name: str, body: Any = None) -> dict:
        """``pause``, ``resume``, ``toggle``, ``next``, ``back``, ``stop``, ``volume``."""
        return self.call("POST", f"/api/{name}", body)


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

    if not isinstance(state, dict):
        return "the station sent an answer that is not a state"
    kind = state.get("state", "?")
    volume = state.get("volume_db") or 0.0
    vol = f"  volume {volume:+.0f} dB" if abs(volume) >= 0.5 else ""
    if kind == "idle":
        error = f"  (last session: {state['error']})" if state.get("error") else ""
        return f"idle{vol}{error}"
    elapsed = format_duration(state.get("elapsed") or 0)
    total = state.get("duration_text") or (format_duration(state["duration"]) if state.get("duration") else "?")
    parts = [kind, state.get("title") or state.get("exercise") or "", f"{elapsed} / {total}"]
    preparing = state.get("preparing")
    if isinstance(preparing, dict) and preparing.get("total"):
        parts.append(f"preparing speech ({preparing.get('done', 0)} of {preparing['total']})")
    if state.get("section"):
        parts.append(f"[{state['section']}]")
    if state.get("text"):
        parts.append(state["text"])
    return "  ".join(p for p in parts if p) + vol
