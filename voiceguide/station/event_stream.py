"""``GET /api/events``: the controller's state changes as server-sent events.

The controller calls :meth:`EventHub.state_changed` from its own threads;
the hub hands each change to the event loop with ``call_soon_threadsafe``,
and every open stream sends it as one ``data:`` line of JSON.

Traps:

* A slow client must not hold the station up, nor make it buffer without
  end: each subscriber keeps only the latest state (a page wants to know
  where the session *is*, not every second it went through).
* A proxy or a sleeping phone can keep a dead connection open for hours: a
  comment line every :data:`KEEPALIVE` seconds makes a dead one fail.
* uvicorn waits for open responses before it shuts down: :meth:`close`
  ends every stream, and the server calls it when a signal arrives.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Callable, Dict, Optional, Set

from voiceguide.station.controller import StationListener

KEEPALIVE = 15.0
#: Tells EventSource how soon to reconnect after the station restarts (ms).
RETRY_MS = 2000


class _Subscriber:
    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.state: Optional[Dict[str, Any]] = None


class EventHub(StationListener):
    """Fans state changes out to every open event stream."""

    def __init__(self) -> None:
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._subscribers: Set[_Subscriber] = set()
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the server's loop (at start-up)."""
        self._loop = loop
        self.closed = False

    def state_changed(self, state: Dict[str, Any]) -> None:  # any thread
        loop = self._loop
        if loop is None or self.closed:
            return
        try:
            loop.call_soon_threadsafe(self._deliver, state)
        except RuntimeError:  # the loop has closed
            pass

    def _deliver(self, state: Optional[Dict[str, Any]]) -> None:
        for sub in self._subscribers:
            sub.state = state
            sub.wake.set()

    def close(self) -> None:
        """End every stream (thread-safe; safe from a signal handler)."""
        self.closed = True
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._deliver, None)
            except RuntimeError:
                pass

    async def stream(self, current: Callable[[], Dict[str, Any]]) -> AsyncIterator[str]:
        """The lines of one event stream: the state now, then each change."""
        sub = _Subscriber()
        self._subscribers.add(sub)
        try:
            yield f"retry: {RETRY_MS}\ndata: {json.dumps(current())}\n\n"
            while not self.closed:
                try:
                    await asyncio.wait_for(sub.wake.wait(), KEEPALIVE)
                except asyncio.TimeoutError:
                    yield ": still here\n\n"
                    continue
                sub.wake.clear()
                if self.closed or sub.state is None:
                    break
                yield f"data: {json.dumps(sub.state)}\n\n"
        finally:
            self._subscribers.discard(sub)
