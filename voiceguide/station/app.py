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
from typing import Any, Callable, Iterable, Optional

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from voiceguide.errors import NotFoundError, ScriptError, UsageError, VoiceguideError
from voiceguide.station import pages
from voiceguide.station.controller import Controller, IdleError
from voiceguide.station.events import EventHub
from voiceguide.station.security import Guard, TokenSource
#: Request bodies are tiny JSON objects; anything bigger is refused unread.
MAX_BODY = 16 * 1024
#: Who may say they asked for a session (``"origin"`` in ``POST /api/play``;
#: the practice log records it); anything else is recorded as ``api``.
ORIGINS = ("api", "ctl", "schedule", "web")


class BadRequest(UsageError):
    pass


class TooLarge(UsageError):
    pass


def _error(exc: Exception) -> JSONResponse:
    if isinstance(exc, HTTPException):
        status, message = exc.status_code, exc.detail
    elif isinstance(exc, NotFoundError):
        status, message = 404, str(exc)
    elif isinstance(exc, IdleError):
        status, message = 409, str(exc)
    elif isinstance(exc, ScriptError):
        status, message = 422, "; ".join(exc.lines())
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
    """The JSON object sent, ``{}`` for an empty body; :class:`BadRequest` otherwise."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise TooLarge(f"the request body is larger than {MAX_BODY} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise TooLarge(f"the request body is larger than {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the body is not JSON; send an object such as {\"id\": \"body-scan\"}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object, such as {\"db\": -2}")
    return data


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


def create_app(controller: Controller, token: TokenSource, *, hub: Optional[EventHub] = None,
               on_schedules_changed: Optional[Callable[[list], Any]] = None,
               hosts: Iterable[str] = ()) -> Any:
    """The ASGI app: the guard around the routes. *hub* streams the state (made if not given).

    *token* is the token or a callable that returns it (a
    :class:`~voiceguide.station.token.TokenFile`); *hosts* are extra names of
    this machine the guard answers to.
    """
    hub = hub or EventHub()

    async def state(request: Request) -> Response:
        return JSONResponse(controller.state())

    async def exercises(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(controller.exercises))

    async def play(request: Request) -> Response:
        body = await _body(request)
        ident = body.get("id")
        if not isinstance(ident, str) or not ident:
            raise BadRequest("say which exercise: {\"id\": \"body-scan\"} (GET /api/exercises lists them)")
        length = body.get("length")
        if isinstance(length, (int, float)) and not isinstance(length, bool):
            length = str(length)
        if length is not None and not isinstance(length, str):
            raise BadRequest("length is a duration such as \"15m\"")
        origin = body.get("origin") if body.get("origin") in ORIGINS else "api"
        return JSONResponse(await run_in_threadpool(controller.play, ident, length, origin=origin))

    def action(name: str) -> Callable:
        method = getattr(controller, name)

        async def endpoint(request: Request) -> Response:
            await _body(request)
            return JSONResponse(method())

        endpoint.__name__ = name
        return endpoint

    async def volume(request: Request) -> Response:
        db = (await _body(request)).get("db")
        if isinstance(db, bool) or not isinstance(db, (int, float)) or not math.isfinite(db) or abs(db) > 42:
            raise BadRequest("send the change in dB, such as {\"db\": -2}")
        return JSONResponse(controller.change_volume(float(db)))

    async def events(request: Request) -> Response:
        return StreamingResponse(hub.stream(controller.state), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def schedules_list(request: Request) -> Response:
        from voiceguide.station import schedules

        return JSONResponse(schedules.as_json(await run_in_threadpool(schedules.listing)))

    async def schedules_add(request: Request) -> Response:
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
        await run_in_threadpool(lambda: schedules.add(body["id"], body["at"], days, length=body.get("length")
                                                      if isinstance(body.get("length"), str) else None))
        if on_schedules_changed is not None:
            on_schedules_changed([body["id"]])
        return JSONResponse(schedules.as_json(await run_in_threadpool(schedules.listing)))

    async def schedules_remove(request: Request) -> Response:
        from voiceguide.station import schedules

        name = (await _body(request)).get("name")
        if not isinstance(name, str):
            raise BadRequest("say which schedule: {\"name\": \"daily-check-in-0730\"}")
        await run_in_threadpool(schedules.remove, name)
        return JSONResponse(schedules.as_json(await run_in_threadpool(schedules.listing)))

    async def prepare(request: Request) -> Response:
        ident = (await _body(request)).get("id")
        if not isinstance(ident, str) or ident not in {e["id"] for e in controller.exercises()}:
            raise NotFoundError(f"no exercise {ident!r} to prepare")
        controller.prepare([ident])
        return JSONResponse({"preparing": ident})

    async def recent(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(recent_sessions))

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(exc)

    def route(path: str, handler: Callable, method: str = "GET") -> Route:
        return Route(path, _handled(handler), methods=[method])

    routes = [
        route("/api/state", state),
        route("/api/exercises", exercises),
        route("/api/events", events),
        route("/api/play", play, "POST"),
        *(route(f"/api/{name}", action(name), "POST") for name in ("pause", "resume", "toggle", "next", "back")),
        route("/api/stop", action("stop"), "POST"),
        route("/api/volume", volume, "POST"),
        route("/api/schedules", schedules_list),
        route("/api/schedules", schedules_add, "POST"),
        route("/api/schedules/remove", schedules_remove, "POST"),
        route("/api/prepare", prepare, "POST"),
        route("/api/log", recent),
        *pages.routes(),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        import asyncio

        hub.bind(asyncio.get_running_loop())
        controller.add_listener(hub)
        try:
            yield
        finally:
            controller.remove_listener(hub)
            hub.close()

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: not_found, 405: not_found})
    app.state.controller = controller
    app.state.hub = hub
    return Guard(app, token, hosts=hosts)
