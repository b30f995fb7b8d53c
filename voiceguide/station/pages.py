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


#: The look of the page, for the pages a browser sees before it is paired. They cannot link
#: style.css (every page file needs the token, which such a browser has not got), so they carry
#: this much of it inline, allowed by its hash in their own Content-Security-Policy.
PAIRING_STYLE = """
:root { --bg: #f4f2ec; --card: #fffdf8; --text: #26302b; --muted: #5d6862; --line: #d9d5ca;
  --accent: #3f6b58; color-scheme: light dark; }
@media (prefers-color-scheme: dark) { :root { --bg: #161a18; --card: #1f2421; --text: #e7e5df;
  --muted: #a5ada7; --line: #37403b; --accent: #8fc0a8; } }
* { box-sizing: border-box; }
html { font-size: 112.5%; -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--text); line-height: 1.5;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, sans-serif; }
header, main { max-width: 34rem; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1rem; }
.brand { font-size: 1.4rem; font-weight: 600; margin: 0; letter-spacing: 0.02em; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 1rem;
  padding: 1rem 1.1rem 1.2rem; margin: 1rem 0; }
h1 { font-size: 1.15rem; margin: 0 0 0.75rem; }
p { margin: 0.5rem 0; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.9em;
  background: var(--bg); border: 1px solid var(--line); border-radius: 0.3rem; padding: 0 0.25rem;
  overflow-wrap: anywhere; }
.muted { color: var(--muted); font-size: 0.9rem; }
"""


def _style_hash() -> str:
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha256(PAIRING_STYLE.encode("utf-8")).digest()).decode("ascii")


#: The Content-Security-Policy of the pairing pages: nothing but their own inline style.
PAIRING_CSP = (f"default-src 'none'; style-src 'sha256-{_style_hash()}'; img-src data:; base-uri 'none'; "
               "form-action 'none'; frame-ancestors 'none'").encode("ascii")


def pairing_page(title: str, heading: str, paragraph: str) -> str:
    """A page for a browser that has no (or an outdated) token, in the phone page's look.

    *paragraph* is trusted HTML written here, never anything from a request.
    """
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="color-scheme" content="light dark">\n'
            f'<link rel="icon" href="data:,">\n'
            f"<title>{title}</title><style>{PAIRING_STYLE}</style></head>\n"
            f'<body><header><p class="brand">voiceguide</p></header>\n'
            f'<main><section class="card"><h1>{heading}</h1>\n<p>{paragraph}</p></section>\n'
            f'<p class="muted">voiceguide is not a treatment. If numbness lasts for weeks or daily life is hard, '
            f"please talk to a doctor or therapist.</p></main></body></html>\n")


PAIRING_NEEDED_PAGE = pairing_page(
    "voiceguide: pair this device", "Open the pairing address first",
    "This station answers only to devices that have its token. On the station, run "
    "<code>voiceguide station --pairing</code> and open the address it prints (or scan its QR code).")

STALE_PAIRING_PAGE = pairing_page(
    "voiceguide: pair again", "This pairing address is out of date",
    "The station's token has changed. On the station, run <code>voiceguide station --pairing</code> "
    "and open the address it prints (or scan its QR code).")


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
