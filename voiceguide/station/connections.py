"""Connections under pressure: timeouts, a cap below the descriptor limit, and a log that does not flood.

The station is left running for weeks, sometimes open to the home network.
uvicorn alone keeps a connection that sends nothing (or half a request
head, or a byte a second) open for ever: h11 has no timeout for reading a
request head, and uvicorn's keep-alive timer is cancelled by any byte. A
few hundred such sockets used up every file descriptor; ``accept()`` then
failed with EMFILE, which asyncio logs with a traceback for every queued
connection (thousands a second), and the owner's own request was never
accepted. uvicorn's ``limit_concurrency`` does not help: it answers 503 to
requests that *arrive*, but it still accepts, and keeps, silent sockets.

So the station serves HTTP through :func:`protocol_class`, h11 with three
rules added:

* **a request deadline**: from the moment a connection opens (or, kept
  alive, from the first byte of its next request) the client has
  :data:`REQUEST_TIMEOUT` seconds to send a whole request, head and body;
  a connection still owing us part of a request then is closed. A request
  that has arrived (an event stream, a slow ``play``) is never timed out:
  only waiting *on the client* is.
* **a connection cap** (:func:`connection_cap`) derived from
  ``RLIMIT_NOFILE``, well below it, so there is always a descriptor for the
  owner's connection, the sound device, the speech workers and the log.
* **eviction instead of refusal**: a new connection that finds the cap
  reached closes the connection that has waited longest on its client
  (silent, half-sent, kept alive with nothing to say, or a refused token
  waiting out its slow-down). The newcomer gets in, so the owner is
  answered however many idle sockets someone holds. Only when every open
  connection is busy with a real answer is the newcomer closed instead.

:class:`OncePerMinute` makes each kind of warning (these, asyncio's accept
errors, uvicorn's "Invalid HTTP request") one line a minute with a count,
never a traceback per socket.

Trap: everything here runs on the event loop thread; nothing blocks.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, Optional, Tuple

log = logging.getLogger("voiceguide.station.connections")

#: Seconds a client has to send a whole request (head and body) once it may send one.
REQUEST_TIMEOUT = 10.0
#: Seconds an idle kept-alive connection stays open (uvicorn's timer; ours adds REQUEST_TIMEOUT).
KEEP_ALIVE = 15
#: The biggest request head h11 buffers (the real ones are under 1 KiB; a phone's with cookies ~2 KiB).
MAX_HEAD = 8 * 1024
#: Never more connections than this, whatever the descriptor limit: a home station needs a few dozen.
MAX_CONNECTIONS = 512
#: Never fewer: below this the descriptor limit is too low for the station anyway.
MIN_CONNECTIONS = 8
#: Descriptors kept for everything but connections (log, sound device, speech workers, sqlite, ...):
#: an idle station holds 14, a playing one about 40.
RESERVED_FDS = 64
#: How many connections asyncio accepts in one go (it takes the server's backlog for that). A
#: connection reaches :meth:`connection_made`, where the cap is applied, two turns of the event
#: loop after its accept, and an evicted one releases its descriptor one turn after the eviction:
#: measured, up to three batches are open beyond the cap, and the cap leaves room for them.
BACKLOG = 16
#: The kernel's queue of connections not yet accepted (they cost the station no descriptor). Set
#: after uvicorn has started, since asyncio sets the queue to BACKLOG: a queue that short fills
#: under a flood of connections and a newcomer's SYN is dropped, costing it a second's retry.
LISTEN_QUEUE = 1024

#: A key the guard sets in a request's scope while it slows a wrong token down: such a
#: connection is as good as idle, and may be closed to make room.
REFUSED = "voiceguide.refused"


def descriptor_limit() -> Optional[int]:
    """The soft ``RLIMIT_NOFILE``, or None where there is no such limit (or it is unlimited)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def connection_cap(soft_limit: Optional[int] = None) -> int:
    """How many connections may be open at once under *soft_limit* descriptors.

    The limit less a reserve for the rest of the station (an eighth of it, at
    least :data:`RESERVED_FDS`) and less three times :data:`BACKLOG`
    (connections accepted but not yet seen by the cap, and closed ones not yet
    released), kept between :data:`MIN_CONNECTIONS` and :data:`MAX_CONNECTIONS`:
    144 under ``ulimit -n 256``, 512 under the usual 1024.
    """
    if soft_limit is None:
        soft_limit = descriptor_limit()
    if soft_limit is None:
        return MAX_CONNECTIONS
    reserve = max(RESERVED_FDS, soft_limit // 8) + 3 * BACKLOG
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, soft_limit - reserve))


class OncePerMinute(logging.Filter):
    """Lets one record of each kind through per *window* seconds; the next says how many it hid.

    A kind is the logger and the first line of the message template (for
    asyncio, whose message is preformatted, the message itself). An
    ``OSError`` traceback (asyncio's ``accept()`` failing with EMFILE) is
    turned into one line naming the error. Memory is bounded: at most
    *limit* kinds are remembered.
    """

    def __init__(self, window: float = 60.0, limit: int = 256, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.window, self.limit, self.clock = window, limit, clock
        self._kinds: Dict[Tuple[str, str], list] = {}   # kind -> [window start, hidden count]

    def filter(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        kind = (record.name, str(record.msg).split("\n", 1)[0][:120])
        seen = self._kinds.get(kind)
        if seen is not None and now - seen[0] < self.window:
            seen[1] += 1
            return False
        hidden = seen[1] if seen is not None else 0
        if len(self._kinds) >= self.limit:
            self._kinds.clear()
        self._kinds[kind] = [now, 0]
        self._one_line(record)
        if hidden:
            record.msg = f"{record.msg} ({hidden} more like this in the last {self.window:.0f} s)"
        return True

    @staticmethod
    def _one_line(record: logging.LogRecord) -> None:
        """An OSError's traceback becomes ``message: [Errno 24] Too many open files`` on one line."""
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, OSError):
            record.msg = f"{record.getMessage().splitlines()[0]}: {exc}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None


_FILTER = OncePerMinute()
#: Loggers whose warnings an attacker can provoke at will: rate-limited.
NOISY = ("asyncio", "uvicorn.error", log.name)


def quiet_noisy_loggers(handler: Optional[logging.Handler] = None) -> None:
    """Rate-limit :data:`NOISY`; with *handler*, send them where the station logs (idempotent)."""
    for name in NOISY:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        if handler is not None and name != log.name and handler not in logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.WARNING)
            logger.propagate = False


def protocol_class(cap: Optional[int] = None, request_timeout: float = REQUEST_TIMEOUT,
                   keep_alive: float = KEEP_ALIVE) -> Any:
    """uvicorn's h11 protocol with the request deadline, the cap and eviction (see the module docs).

    Passed to ``uvicorn.Config(http=...)``; it is also chosen where
    httptools is installed, so the rules hold on every machine.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    limit = connection_cap() if cap is None else cap
    waiting_states = (h11.IDLE, h11.SEND_BODY)

    class GuardedH11Protocol(H11Protocol):
        """One connection; the class attributes are shared by all of them."""

        cap = limit

        def connection_made(self, transport: Any) -> None:
            self._deadline: Any = None
            self._waiting_since = self.loop.time()
            self._next_begun = True   # a new connection's deadline runs from its opening
            super().connection_made(transport)
            self._arm(request_timeout)
            if len(self.connections) > self.cap:
                self._make_room()

        def connection_lost(self, exc: Optional[Exception]) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                # kept alive: uvicorn closes it after keep_alive seconds of silence; from the first
                # byte of the next request on, that request has request_timeout seconds (data_received)
                self._waiting_since = self.loop.time()
                self._next_begun = False
                self._arm(keep_alive + request_timeout)

        def data_received(self, data: bytes) -> None:
            if not self._next_begun:
                self._next_begun = True
                self._arm(request_timeout)
            super().data_received(data)

        def shutdown(self) -> None:
            """The station stops: a connection that only waits on its client is closed now."""
            if self.waiting_on_client():
                self.transport.abort()
                return
            super().shutdown()

        # -- the rules --------------------------------------------------------------

        def waiting_on_client(self) -> bool:
            """Owes us (part of) a request, or only waits out a refusal: may be closed for room."""
            if self.transport is None or self.transport.is_closing():
                return False
            if self.conn.their_state in waiting_states:
                return True
            cycle, scope = self.cycle, self.scope
            return bool(scope and scope.get(REFUSED) and cycle is not None and not cycle.response_complete)

        def _make_room(self) -> None:
            others = [p for p in self.connections
                      if p is not self and isinstance(p, GuardedH11Protocol) and p.waiting_on_client()]
            if not others:
                log.warning("%d connections are open, each busy with an answer (the cap under this "
                            "descriptor limit); refusing new ones until one ends", len(self.connections) - 1)
                self.transport.abort()
                return
            victim = min(others, key=lambda p: p._waiting_since)
            log.warning("%d connections are open (the cap under this descriptor limit); closing those "
                        "that wait longest without sending a request", len(self.connections) - 1)
            victim.transport.abort()

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._timed_out)

        def _disarm(self) -> None:
            if getattr(self, "_deadline", None) is not None:
                self._deadline.cancel()
                self._deadline = None

        def _timed_out(self) -> None:
            self._deadline = None
            if self.transport.is_closing() or self.conn.their_state not in waiting_states:
                return
            log.warning("closing connections that sent no whole request within %.0f s (the latest from %s)",
                        request_timeout, self.client[0] if self.client else "?")
            self.transport.abort()

    return GuardedH11Protocol
