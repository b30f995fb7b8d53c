"""Who may talk to the station, and how: every rule that makes it safe to open to a home network.

This is the one place that decides whether a request is let in: one
pure-ASGI middleware in front of every route (the event stream and any
route added later included), so no endpoint can forget a rule. In the order
they are applied:

1. **Host allow-list** (DNS rebinding). A page on ``evil.example`` whose name
   is re-pointed at this machine makes the browser send ``Host:
   evil.example``; we answer only to names of this machine (``localhost``,
   its host name, ``NAME.local``, names the user adds) and to IP literals. An
   IP literal is safe: a page can only reach it under that same origin, never
   under an attacker's. No Host header at all is refused too.
2. **Pairing swap.** ``GET /?token=T`` with the right token answers with a
   ``303`` to ``/`` and an ``HttpOnly; SameSite=Strict`` cookie, so the token
   leaves the address bar (and history, and any Referer) at once. The
   cookie has no ``Secure`` flag: the station speaks plain HTTP on the home
   network, and a ``Secure`` cookie would never be sent back.
3. **Token.** Every request needs ``Authorization: Bearer T`` or the cookie,
   compared in constant time (:func:`~voiceguide.station.token.matches`), as
   DESIGN.md pins: the page and its static files too. Without it the API
   answers a JSON 401; a browser opening a page gets a 401 page that says how
   to pair (so a phone whose cookie has gone stale is told what to do).
4. **Slowing bad tokens.** After a few bad tokens from one address every
   further bad one waits, a little longer each time, one after another (a
   flood of parallel guesses queues up instead of going faster); a queue
   longer than a minute is answered 429 at once. A good token clears it.
5. **State changes are POSTs with a JSON body.** GET and HEAD may only read;
   any other method is 405. A POST must say ``Content-Type:
   application/json``: an HTML form (urlencoded, multipart or text/plain)
   from another site can never produce that without a CORS preflight, which
   we never grant. A POST whose ``Origin`` or ``Sec-Fetch-Site`` says it came
   from another site is 403 as well.
6. **Body cap.** A body longer than :data:`MAX_BODY` is 413, whether its
   Content-Length says so up front or it streams past the cap.

Every answer also carries headers that keep the page to itself (a strict
Content-Security-Policy: scripts, styles and connections from this station
only; no framing; no referrer; no MIME sniffing), and every answer but the
page's static files says ``Cache-Control: no-store``: the state, the log,
the schedules and the page itself are private and must not stay in a
browser's or a proxy's cache.

Traps: never log ``scope["query_string"]`` or a raw path here (the pairing
address carries the token; :mod:`voiceguide.station.redact` scrubs uvicorn's
access log), and do not wrap with Starlette's ``BaseHTTPMiddleware``: it
buffers and breaks the event stream. Every refusal is the API's usual
``{"error": "one line"}``; none of them echoes what was sent.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from voiceguide.station import pages
from voiceguide.station.connections import REFUSED
from voiceguide.station.token import matches

COOKIE = "voiceguide_token"
COOKIE_MAX_AGE = 400 * 24 * 3600   # browsers cap cookie lifetimes at 400 days
MAX_BODY = 16 * 1024                # the biggest real body is a schedule: ~100 bytes

SECURITY_HEADERS: List[Tuple[str, str]] = [
    ("content-security-policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-resource-policy", "same-origin"),
]

API_PREFIX = "/api/"
UNAUTHORIZED = ("a valid token is needed: open the pairing address (`voiceguide station --pairing` "
                "prints it), or send the header Authorization: Bearer TOKEN (`voiceguide ctl` does)")

TokenSource = Union[str, Callable[[], str]]


def machine_names(extra: Iterable[str] = ()) -> List[str]:
    """Names that mean this machine: the ones a phone or a browser would type."""
    names = {"localhost"}
    try:
        host = socket.gethostname()
    except OSError:   # pragma: no cover - gethostname does not fail on Linux
        host = ""
    if host:
        # no getfqdn(): it asks DNS, which can hang a Pi booting without a network
        short = host.split(".")[0]
        names.update({host, short, f"{short}.local"})
    names.update(n for n in extra if n)
    return sorted(n.lower().rstrip(".") for n in names if n)


def split_host(value: str) -> Optional[str]:
    """The name part of a Host header (``[::1]:8765`` -> ``::1``), or None if malformed."""
    value = value.strip().lower()
    if not value:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        rest = value[end + 1:]
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        return value[1:end]
    name, sep, port = value.rpartition(":")
    if sep and port.isdigit():
        value = name
    elif sep:
        return None
    return value.rstrip(".")


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Throttle:
    """Slows repeated bad tokens from one address: the first few are free.

    Each bad attempt past ``free`` waits ``base * 2**k`` seconds (capped at
    ``cap``) after the previous one from that address was answered, so many
    parallel guesses queue up. Memory is bounded: addresses quiet for
    ``window`` seconds are forgotten, and at most ``limit`` are kept.
    """

    def __init__(self, free: int = 5, base: float = 0.25, cap: float = 8.0,
                 window: float = 600.0, give_up: float = 60.0, limit: int = 4096,
                 clock: Callable[[], float] = time.monotonic):
        self.free, self.base, self.cap = free, base, cap
        self.window, self.give_up, self.limit = window, give_up, limit
        self.clock = clock
        self._seen: Dict[str, List[float]] = {}   # address -> [count, last, next_free_at]

    def delay(self, address: str) -> Optional[float]:
        """Record a bad attempt; seconds to wait before answering, or None for 429 now."""
        now = self.clock()
        self._prune(now)
        count, _, ready = self._seen.get(address, (0, now, now))
        count += 1
        step = 0.0 if count <= self.free else min(self.base * 2 ** (count - self.free - 1), self.cap)
        until = max(now, ready) + step
        if until - now > self.give_up:
            self._seen[address] = [count, now, ready]
            return None
        self._seen[address] = [count, now, until]
        return until - now

    def clear(self, address: str) -> None:
        self._seen.pop(address, None)

    def _prune(self, now: float) -> None:
        if len(self._seen) < self.limit and not any(now - v[1] > self.window for v in self._seen.values()):
            return
        for key in [k for k, v in self._seen.items() if now - v[1] > self.window]:
            del self._seen[key]
        while len(self._seen) >= self.limit:
            del self._seen[min(self._seen, key=lambda k: self._seen[k][1])]


class Guard:
    """ASGI middleware applying the rules in this module's docstring to ``app``.

    Pure ASGI (see the trap above), reading the request through Starlette's
    own types (:class:`~starlette.requests.Request`, its headers, cookies and
    query) and answering with its responses, as Starlette's
    ``TrustedHostMiddleware`` does.

    ``token`` is the token, or a callable asked for it at every check, so a
    token replaced on disk (``voiceguide station --new-token``) takes effect
    in a running station (see :class:`~voiceguide.station.token.TokenFile`).
    ``hosts`` adds names of this machine to the allow-list (``[station]
    hosts`` in the config: a name the router gives it, say).
    """

    def __init__(self, app: ASGIApp, token: TokenSource, hosts: Iterable[str] = (),
                 max_body: int = MAX_BODY, throttle: Optional[Throttle] = None):
        self.app = app
        self.token: Callable[[], str] = token if callable(token) else (lambda: token)
        self.names = frozenset(machine_names(hosts))
        self.max_body = max_body
        self.throttle = throttle or Throttle()

    # -- checks ---------------------------------------------------------------

    def host_allowed(self, host: Optional[str]) -> bool:
        name = split_host(host) if host else None
        return name is not None and bool(name) and (name in self.names or is_ip(name))

    def token_ok(self, given: Optional[str]) -> bool:
        expected = self.token()
        return bool(expected) and matches(given, expected)

    @staticmethod
    def presented(request: Request) -> Optional[str]:
        """The token a request carries: bearer header first, then the cookie."""
        scheme, _, value = _header(request.headers, "authorization").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return request.cookies.get(COOKIE) or None

    # -- the middleware ---------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":   # no websockets here
            if scope["type"] == "websocket":
                await WebSocketClose(code=1008)(scope, receive, send)
            return
        request = Request(scope, receive)
        headers = request.headers
        method, path = request.method, scope["path"]
        send = self._with_headers(send, private=not path.startswith("/static/"))

        async def answer(response: Response) -> None:
            await response(scope, receive, send)

        if not self.host_allowed(_header(headers, "host")):
            return await answer(_json(400, "this station answers only to its own names and addresses "
                                           "(the Host header names another machine); add a name of "
                                           "this machine with hosts in the [station] table of config.toml"))

        address = request.client.host if request.client else "?"
        pairing = [t for t in request.query_params.getlist("token") if t]   # a blank ?token= is no pairing
        if path == "/" and method in ("GET", "HEAD") and pairing:
            paired = await self._pair(scope, receive, address, pairing[-1])
            return None if paired is None else await answer(paired)

        if not self.token_ok(self.presented(request)):
            page = method in ("GET", "HEAD") and not path.startswith(API_PREFIX)
            refusal = await self._refuse(scope, receive, address, page=page)
            return None if refusal is None else await answer(refusal)
        self.throttle.clear(address)

        if method in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        if method != "POST":
            return await answer(_json(405, f"{method} is not used here: "
                                           "reading is GET, changing is POST with a JSON body",
                                      {"allow": "GET, HEAD, POST"}))
        ctype = _header(headers, "content-type").split(";")[0].strip().lower()
        if ctype != "application/json":
            return await answer(_json(415, "a change is a POST with a JSON body: send the header "
                                           "Content-Type: application/json (forms are refused)"))
        if self._cross_site(headers):
            return await answer(_json(403, "a change asked for by another web site is refused"))
        if "content-length" in headers:
            try:
                declared = int(_header(headers, "content-length"))
            except ValueError:
                return await answer(_json(400, "the Content-Length header is not a number"))
            if declared > self.max_body:
                return await answer(self._too_big())
        return await self._capped(request, send)

    @staticmethod
    def _cross_site(headers: Headers) -> bool:
        site = _header(headers, "sec-fetch-site").lower()
        if site in ("cross-site", "same-site"):
            return True
        origin = _header(headers, "origin")
        if not origin or origin == "null":
            return origin == "null"
        _, _, rest = origin.partition("://")
        return rest.lower() != _header(headers, "host").lower()

    async def _capped(self, request: Request, send: Send) -> None:
        """Read the whole body first (it is small), refusing it past the cap.

        Reading it here rather than raising from inside the app's receive keeps
        the answer a clean 413: Starlette would turn an exception raised inside
        a handler into a 500 before we could answer.
        """
        chunks: List[bytes] = []
        seen = 0
        try:
            async for chunk in request.stream():
                seen += len(chunk)
                if seen > self.max_body:
                    return await self._too_big()(request.scope, request.receive, send)
                chunks.append(chunk)
        except ClientDisconnect:
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await request.receive()

        await self.app(request.scope, replay, send)

    # -- answers ----------------------------------------------------------------

    @staticmethod
    def _with_headers(send: Send, private: bool = True) -> Send:
        """*send* adding :data:`SECURITY_HEADERS` to every answer; when *private*, ``no-store`` too.

        ``no-store`` replaces whatever cache rule a route chose (the page's
        own ``no-cache`` would still let a browser keep a copy on disk).
        """
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", []))}   # the route's stays as it was
                headers = MutableHeaders(scope=message)
                if private:
                    del headers["cache-control"]
                for key, value in SECURITY_HEADERS:
                    headers.setdefault(key, value)
                if private:
                    headers.append("cache-control", "no-store")
            await send(message)
        return wrapped

    async def _pair(self, scope: Scope, receive: Receive, address: str, given: str) -> Optional[Response]:
        if not self.token_ok(given):
            wait = self.throttle.delay(address)
            if wait and not await self._wait(scope, receive, wait):
                return None
            return _html(401, STALE_PAIRING_PAGE)
        self.throttle.clear(address)
        cookie = f"{COOKIE}={given}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE}"
        return Response(status_code=303, headers={"location": "/", "set-cookie": cookie,
                                                  "cache-control": "no-store"})

    async def _refuse(self, scope: Scope, receive: Receive, address: str, page: bool = False) -> Optional[Response]:
        """The answer to a missing or wrong token (None: the client went away while it was slowed down)."""
        wait = self.throttle.delay(address)
        if wait is None:
            return _json(429, "too many wrong tokens from this address; wait a minute", {"retry-after": "60"})
        if wait and not await self._wait(scope, receive, wait):
            return None
        if page:  # a browser opening the page without the cookie: say how to pair, as a page
            return _html(401, PAIRING_NEEDED_PAGE)
        return _json(401, UNAUTHORIZED, {"www-authenticate": 'Bearer realm="voiceguide"'})

    @staticmethod
    async def _wait(scope: Scope, receive: Receive, seconds: float) -> bool:
        """Slow a refusal down by *seconds*; False when the client went away meanwhile (answer nothing).

        Ending at once on a disconnect matters: a connection closed to make
        room (or by a stopping station) must not leave its task asleep for
        up to a minute, holding up a shutdown. Meanwhile the connection
        counts as idle (:data:`~voiceguide.station.connections.REFUSED`).
        """
        scope[REFUSED] = True

        async def gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass   # a refused request's body is read and dropped

        try:
            await asyncio.wait_for(gone(), seconds)
        except asyncio.TimeoutError:
            scope[REFUSED] = False
            return True
        return False

    def _too_big(self) -> Response:
        return _json(413, too_large(self.max_body))


def too_large(limit: int = MAX_BODY) -> str:
    """The one line for a body over *limit* bytes (the guard's 413, and the app's own check)."""
    return f"the request body is larger than {limit} bytes"


def _header(headers: Headers, name: str) -> str:
    """Every *name* header as one value ("" when absent): repeated ones joined the HTTP way."""
    return ", ".join(headers.getlist(name))


def _json(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> Response:
    """A refusal as the API words its errors: ``{"error": "one line"}``, never what was sent."""
    return JSONResponse({"error": message}, status_code=status,
                        headers={"cache-control": "no-store", **(headers or {})})


def _html(status: int, page: str) -> Response:
    csp = pages.PAIRING_CSP.decode("ascii")
    return HTMLResponse(page, status_code=status, headers={"cache-control": "no-store", "content-security-policy": csp})


# The pages for a browser without a (current) token, in the phone page's look: see pages.py.
PAIRING_NEEDED_PAGE = pages.PAIRING_NEEDED_PAGE
STALE_PAIRING_PAGE = pages.STALE_PAIRING_PAGE
