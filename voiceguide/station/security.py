"""Who may talk to the station: the token check in front of every ``/api/`` request.

This is the one place that decides whether a request is let in. Today it
accepts ``Authorization: Bearer TOKEN`` (compared in constant time); the web
page's cookie, Host-header checks (DNS rebinding), the same-origin rule for
state changes and slowing down repeated bad tokens belong here too, as
further checks in :class:`Guard` -- not scattered over the endpoints.

It is a plain ASGI middleware so that it also covers the event stream and
any route added later under ``/api/``. The answer to a refused request is
the API's usual JSON error with status 401; the token is never logged.
"""

from __future__ import annotations

import json
from typing import Optional

from voiceguide.station.token import matches

API_PREFIX = "/api/"
UNAUTHORIZED = ("a valid token is needed: send the header Authorization: Bearer TOKEN "
                "(`voiceguide ctl` does; the token is in ~/.config/voiceguide/station-token)")


def bearer(headers) -> Optional[str]:
    """The token of an ``Authorization: Bearer ...`` header (raw ASGI header pairs)."""
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, given = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer":
                return given.strip()
    return None


async def send_json(send, status: int, body: dict, headers=()) -> None:
    payload = json.dumps(body).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()),
                            (b"cache-control", b"no-store"), *headers]})
    await send({"type": "http.response.body", "body": payload})


class Guard:
    """ASGI middleware: every request under ``/api/`` must carry the token."""

    def __init__(self, app, token: str):
        self.app = app
        self.token = token

    def allowed(self, scope) -> bool:
        return matches(bearer(scope.get("headers", ())), self.token)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX) and not self.allowed(scope):
            await send_json(send, 401, {"error": UNAUTHORIZED}, [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)
