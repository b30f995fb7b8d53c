"""The phone page's files, served from the installed package and nowhere else.

Nothing in a request becomes a path: the three files are looked up by exact
name in a fixed table, and read with :mod:`importlib.resources`, so
``/static/../../etc/passwd``, ``/static/%2e%2e/x`` or a symlink planted
beside the package can never be served. Files are read once and kept (they
are small: the whole page is under 30 KB).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Dict, Tuple

FILES: Dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
}


@lru_cache(maxsize=None)
def page_file(name: str) -> Tuple[bytes, str]:
    """``(content, media type)`` of a page file; ``KeyError`` for any other name."""
    media = FILES[name]
    from importlib.resources import files

    return (files("voiceguide.station").joinpath("static").joinpath(name).read_bytes(), media)


def routes():
    """Starlette routes for ``/`` and ``/static/{name}`` (404 for any other name)."""
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def serve(name: str, request) -> Response:
        try:
            body, media = page_file(name)
        except KeyError:
            return JSONResponse({"error": "no such file on this station"}, status_code=404)
        return Response(b"" if request.method == "HEAD" else body, media_type=media,
                        headers={"cache-control": "no-cache",
                                 "content-length": str(len(body))})

    async def index(request):
        return serve("index.html", request)

    async def static(request):
        return serve(request.path_params["name"], request)

    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/static/{name:path}", static, methods=["GET", "HEAD"]),
    ]
