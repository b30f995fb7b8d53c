"""The station's HTTP API and page: a Starlette app over one :class:`Controller`.

How it is put together (outermost first):

1. :class:`~voiceguide.station.security.Guard` -- the rules for a station
   opened to the home network: the token on every request under ``/api/``
   (``401 {"error": ...}``), the Host allow-list, the pairing cookie, JSON
   POSTs only for changes, slowed bad tokens, capped bodies;
2. the routes below -- thin: read the JSON body, call one controller
   method, answer the state object as JSON; library errors become
   ``{"error": "one line"}`` with a 4xx status (:func:`_error`);
3. ``/`` and ``/static/...`` -- the web page, three files looked up by
   exact name in the package (:mod:`voiceguide.station.pages`); nothing from
   the network ever becomes a path (exercise ids are looked up in the
   catalog, schedule names checked before they name a unit file).

Why Starlette with uvicorn rather than ``http.server``: the event stream
needs many long-lived connections next to quick API calls, which an ASGI
server does with one thread and an event loop; both are small, well kept,
ship wheels for the Pi, and Starlette's test client and routing save us a
hand-written HTTP parser -- the part that most needs to be right when the
page is opened to the home network.

Endpoints that block (playing loads a script, schedules call systemctl) run
in the thread pool; the others only take the controller's lock briefly.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any, AsyncIterator, Callable, Iterable, List, Optional, Tuple, cast

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from voiceguide.errors import NotFoundError, ScriptError, UsageError, VoiceguideError
from voiceguide.station import downloads, pages
from voiceguide.station.controller import Controller, IdleError
from voiceguide.station.event_stream import EventHub
from voiceguide.station.security import MAX_BODY, Guard, TokenSource, too_large

#: Who may say they asked for a session (``"origin"`` in ``POST /api/play``;
#: the practice log records it); anything else is recorded as ``api``.
ORIGINS = ("api", "ctl", "schedule", "web")


class BadRequest(UsageError):
    pass


class TooLarge(UsageError):
    pass


class Unreachable(UsageError):
    """A length the exercise cannot last (422, as an invalid script: the request was well formed)."""


def _error(exc: Exception) -> JSONResponse:
    if isinstance(exc, HTTPException):
        status, message = exc.status_code, exc.detail
    elif isinstance(exc, NotFoundError):
        status, message = 404, str(exc)
    elif isinstance(exc, IdleError):
        status, message = 409, str(exc)
    elif isinstance(exc, ScriptError):
        status, message = 422, "; ".join(exc.lines())
    elif isinstance(exc, Unreachable):
        status, message = 422, str(exc)
    elif isinstance(exc, TooLarge):
        status, message = 413, str(exc)
    elif isinstance(exc, UsageError):
        status, message = 400, str(exc)
    elif isinstance(exc, VoiceguideError):
        status, message = 503, str(exc)
    else:  # pragma: no cover - a bug; Starlette logs the traceback
        status, message = 500, f"internal error ({type(exc).__name__}); the station's log has the details"
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


async def _body(request: Request) -> dict:
    """The JSON object sent, ``{}`` for an empty body; :class:`BadRequest` otherwise.

    The guard has already refused a body over :data:`~voiceguide.station.security.MAX_BODY`
    (413) before a route runs; the same cap holds here for an app served without it.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise TooLarge(too_large())
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise TooLarge(too_large())
    return parse_body(raw)


#: The deepest nesting a body may have: the real ones are flat ({"days": [...]} is 2).
MAX_DEPTH = 8
#: The most digits an integer in a body may have (Python would parse 4,000 and then fail on them).
MAX_DIGITS = 20
NOT_JSON = "the body is not JSON; send an object such as {\"id\": \"body-scan\"}"


class _Refused(ValueError):
    """A body json.loads could parse but we will not: its message is the answer's."""


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _Refused(f"a number in the body has more than {MAX_DIGITS} digits")
    return int(text)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("a number in the body is too large")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows")


def _unique(pairs: list) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"the key {json.dumps(key)[:40]} is given twice")
        result[key] = value
    return result


def _depth(value: Any) -> int:
    """How deep *value* nests, without recursion (the parser has already limited it)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_body(raw: bytes) -> dict:
    """A request body as the JSON object it must be; :class:`BadRequest` (400) for anything else.

    Stricter than ``json.loads``, because every value then meets code that
    trusts it: a 4,000-digit integer parses but ``float()`` of it raises
    OverflowError; 5,000 nested brackets raise RecursionError; NaN and
    Infinity are not JSON; a duplicate key would let two readers of the
    same body disagree. Each of these is refused here, with one line.
    """
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text; send a JSON object such as {\"db\": -2}") from None
    try:
        data = json.loads(text, parse_int=_integer, parse_float=_finite, parse_constant=_constant,
                          object_pairs_hook=_unique)
    except _Refused as exc:
        raise BadRequest(str(exc)) from None
    except RecursionError:
        raise BadRequest(f"the body nests deeper than {MAX_DEPTH} levels; send a flat JSON object") from None
    except ValueError:
        raise BadRequest(NOT_JSON) from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object, such as {\"db\": -2}")
    if _depth(data) > MAX_DEPTH:
        raise BadRequest(f"the body nests deeper than {MAX_DEPTH} levels; send a flat JSON object")
    return data


def request_length(value: Any) -> Optional[Tuple[str, float]]:
    """A request's ``length`` as (what was sent, seconds); None when not given. :class:`BadRequest` if bad.

    The one rule for ``POST /api/play`` and ``POST /api/schedules``: a
    duration text (``"15m"``, ``"1m30s"``) or a number of seconds, as
    ``--length`` takes it. Whether the exercise can last that long is
    :func:`check_reach`'s question.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRequest("length is a duration such as \"15m\" (or a number of seconds)")
    from voiceguide.station.shared import parse_length

    given = value.strip() if isinstance(value, str) else repr(value)
    seconds = parse_length(cast(str, value))   # parse_duration takes a number of seconds as well
    if seconds is None:
        return None
    return given, seconds


def request_delay(value: Any) -> Optional[float]:
    """A request's ``delay`` ("30s", or a number of seconds) in seconds; None when not given or zero.

    The rule of ``play --delay`` (:func:`~voiceguide.player.countdown.parse_delay`);
    :class:`BadRequest` (400) for anything else.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRequest("delay is a duration such as \"30s\" (or a number of seconds)")
    from voiceguide.player.countdown import parse_delay

    try:
        return parse_delay(value) or None
    except UsageError as exc:
        raise BadRequest(str(exc)) from None


def check_reach(ident: Any, length: Optional[Tuple[str, float]]) -> Optional[str]:
    """*length* as text for the controller or a schedule, once the exercise is known to reach it.

    Checked against the exercise's timeline with estimated speech, as
    ``voiceguide play --length`` refuses a length before anything sounds
    (:class:`Unreachable`, 422, says what the exercise can last). A bare
    number gets the hint the command line gives: 5 means 5 seconds. An
    unknown id or an invalid script is left to the caller to report.
    """
    if length is None:
        return None
    given, seconds = length
    from voiceguide.station.shared import catalog

    path = catalog().get(ident) if isinstance(ident, str) else None
    if path is not None:
        from voiceguide.script.loader import load
        from voiceguide.timeline.place import compile_timeline, estimate_speech_samples

        try:
            script = load(path)
        except VoiceguideError:
            script = None
        if script is not None:
            from voiceguide.script.model import MAX_SESSION_SECONDS

            try:
                # past the longest session the timeline would overflow computing samples: any
                # length beyond it is refused the same way
                compile_timeline(script, estimate_speech_samples, length=min(seconds, 2 * MAX_SESSION_SECONDS))
            except UsageError as exc:
                reason = str(exc).split("cannot be reached: ", 1)[-1]
                hint = (f"; {given} means {given} second{'' if seconds == 1 else 's'}: did you mean {given}m?"
                        if _bare_number(given) and seconds < 60 else "")
                raise Unreachable(f"length {given} cannot be reached: {reason}{hint}") from None
    if not _bare_number(given):
        return given
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"   # a number of seconds, said so


def _bare_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def recent_sessions(limit: int = 10) -> list:
    """The practice log's latest sessions for the page's "Recent sessions" ([] without a log yet).

    Opened read-only in spirit (``create=False``): asking must not make a log
    for someone who turned it off before it ever existed.
    """
    from voiceguide.practice.report import ending
    from voiceguide.practice.store import PracticeLog, PracticeLogError

    try:
        with PracticeLog(create=False) as log:
            rows = log.sessions(limit=limit)
    except PracticeLogError:
        return []
    return [{**row.as_dict(), "ending": ending(row)} for row in rows]


def _handled(handler: Callable) -> Callable:
    """Library errors to JSON errors, for every endpoint."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except (VoiceguideError, HTTPException) as exc:
            return _error(exc)

    endpoint.__name__ = handler.__name__
    return endpoint


class Api:
    """The routes' handlers over one controller: each reads the body, calls one method, answers JSON.

    *on_schedules_changed* hears the exercises of a schedule just added (the
    station prepares their speech).
    """

    def __init__(self, controller: Controller, hub: EventHub,
                 on_schedules_changed: Optional[Callable[[list], Any]] = None):
        self.controller = controller
        self.hub = hub
        self.on_schedules_changed = on_schedules_changed

    def routes(self) -> List[Route]:
        def route(path: str, handler: Callable, method: str = "GET") -> Route:
            return Route(path, _handled(handler), methods=[method])

        return [
            route("/api/state", self.state),
            route("/api/exercises", self.exercises),
            route("/api/music", self.music),
            route("/api/events", self.events),
            route("/api/play", self.play, "POST"),
            *(route(f"/api/{name}", self.action(name), "POST")
              for name in ("pause", "resume", "toggle", "next", "back", "stop")),
            route("/api/volume", self.volume, "POST"),
            route("/api/schedules", self.schedules_list),
            route("/api/schedules", self.schedules_add, "POST"),
            route("/api/schedules/remove", self.schedules_remove, "POST"),
            route("/api/prepare", self.prepare, "POST"),
            route("/api/log", self.recent),
            route("/api/exercises/{ident}/audio", downloads.endpoint(self.controller)),   # station/downloads.py
            *pages.routes(),
        ]

    async def state(self, request: Request) -> Response:
        return JSONResponse(self.controller.state())

    async def exercises(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.controller.exercises))

    async def music(self, request: Request) -> Response:
        """The pieces of the station's music folder: ``[{"name", "seconds"?}]`` (see station/music.py)."""
        return JSONResponse(await run_in_threadpool(self.controller.music))

    async def play(self, request: Request) -> Response:
        body = await _body(request)
        ident = body.get("id")
        if not isinstance(ident, str) or not ident:
            raise BadRequest("say which exercise: {\"id\": \"body-scan\"} (GET /api/exercises lists them)")
        length = request_length(body.get("length"))
        delay = request_delay(body.get("delay"))
        origin = str(body["origin"]) if body.get("origin") in ORIGINS else "api"
        music = body.get("music")
        if music is not None and not isinstance(music, str):
            raise BadRequest("music is the name of a piece, such as {\"music\": \"rain.flac\"} (GET /api/music)")

        def start() -> dict:
            return self.controller.play(ident, check_reach(ident, length), origin=origin, delay=delay,
                                        music=music or None)

        return JSONResponse(await run_in_threadpool(start))

    def action(self, name: str) -> Callable:
        """The handler of a control without arguments (pause, next, stop...): the controller's method of its name."""
        method = getattr(self.controller, name)

        async def endpoint(request: Request) -> Response:
            await _body(request)
            return JSONResponse(method())

        endpoint.__name__ = name
        return endpoint

    async def volume(self, request: Request) -> Response:
        db = (await _body(request)).get("db")
        if isinstance(db, bool) or not isinstance(db, (int, float)) or not math.isfinite(db) or abs(db) > 42:
            raise BadRequest("send the change in dB, such as {\"db\": -2}")
        return JSONResponse(self.controller.change_volume(float(db)))

    async def events(self, request: Request) -> Response:
        return StreamingResponse(self.hub.stream(self.controller.state), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def schedules_list(self, request: Request) -> Response:
        from voiceguide.station import schedules

        return JSONResponse(schedules.as_json(await run_in_threadpool(schedules.listing)))

    async def schedules_add(self, request: Request) -> Response:
        from voiceguide.station import schedules

        body = await _body(request)
        days = body.get("days")
        if isinstance(days, list) and all(isinstance(d, str) for d in days):
            days = ",".join(days) or None
        elif days is not None and not isinstance(days, str):
            raise BadRequest("days is a list such as [\"mon\", \"tue\"] or a text such as \"mon..fri\"")
        for key in ("id", "at"):
            if not isinstance(body.get(key), str):
                raise BadRequest(f"{key} is needed: {{\"id\": \"daily-check-in\", \"at\": \"07:30\"}}")
        length = request_length(body.get("length"))   # the rule of /api/play: a number is seconds there too

        def add() -> None:
            schedules.add(body["id"], body["at"], days, length=check_reach(body["id"], length))

        await run_in_threadpool(add)
        if self.on_schedules_changed is not None:
            self.on_schedules_changed([body["id"]])
        return JSONResponse(schedules.as_json(await run_in_threadpool(schedules.listing)))

    async def schedules_remove(self, request: Request) -> Response:
        from voiceguide.station import schedules

        name = (await _body(request)).get("name")
        if not isinstance(name, str):
            raise BadRequest("say which schedule: {\"name\": \"daily-check-in-0730\"}")
        await run_in_threadpool(schedules.remove, name)
        return JSONResponse(schedules.as_json(await run_in_threadpool(schedules.listing)))

    async def prepare(self, request: Request) -> Response:
        ident = (await _body(request)).get("id")
        if not isinstance(ident, str) or ident not in {e["id"] for e in self.controller.exercises()}:
            raise NotFoundError(f"no exercise {ident!r} to prepare")
        self.controller.prepare([ident])
        return JSONResponse({"preparing": ident})

    async def recent(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(recent_sessions))

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """While the app runs, the event hub hears the controller (on this event loop)."""
        import asyncio

        self.hub.bind(asyncio.get_running_loop())
        self.controller.add_listener(self.hub)
        try:
            yield
        finally:
            self.controller.remove_listener(self.hub)
            self.hub.close()


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(exc)


def create_app(controller: Controller, token: TokenSource, *, hub: Optional[EventHub] = None,
               on_schedules_changed: Optional[Callable[[list], Any]] = None,
               hosts: Iterable[str] = ()) -> Any:
    """The ASGI app: the guard around the routes. *hub* streams the state (made if not given).

    *token* is the token or a callable that returns it (a
    :class:`~voiceguide.station.token.TokenFile`); *hosts* are extra names of
    this machine the guard answers to.
    """
    api = Api(controller, hub or EventHub(), on_schedules_changed)
    app = Starlette(routes=api.routes(), lifespan=api.lifespan,
                    exception_handlers={404: _not_found, 405: _not_found})
    app.state.controller = controller
    app.state.hub = api.hub
    return Guard(app, token, hosts=hosts)
