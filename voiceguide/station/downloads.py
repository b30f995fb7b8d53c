"""``GET /api/exercises/ID/audio?format=mp3&length=15m``: any exercise as a file for a phone's player.

The answer is the session exactly as ``voiceguide render -o F.mp3`` makes it
(the same :func:`~voiceguide.player.render.render`: title, summary and one
ID3 chapter per section), with this station's voice, rate, volume and
ambient level, as an attachment named the way a person would name it
("Body scan - 15 min.mp3").

* **Rendered once.** Each file is kept in ``<cache>/voiceguide/downloads/``
  under a digest of everything that makes its sound: the script as loaded
  (its every step and value, and the size and time of any sound file it
  names), the length, the ambient level, the sample rate, the speech cache
  key of every clip (engine and its version, voice, model digests, rate,
  volume, text: :func:`voiceguide.synth.spec.cache_key`), the loop cache's
  version, voiceguide's, libsndfile's and the encoder settings. So a change
  to any of them makes a new file, and the same request is served from the
  disk (time to first byte: ``benchmarks/downloads.py``).
* **Never twice at once.** Renders run one at a time in a worker thread
  (the server keeps answering); a second phone asking for the same file
  while it is made waits for it and is then served the same file. A Pi
  Zero has not the cores for two renders anyway.
* **Bounded.** After each render the least recently served files go until
  the folder holds at most :data:`CACHE_BYTES` (a served file's modification
  time is set to now).
* **Link-safe and whole.** The folder and every file in it are opened
  through :mod:`voiceguide.ownfiles` (never through a link); a file is
  written to a temporary name and renamed when complete
  (:class:`~voiceguide.sinks.file.FileSink`), and streamed from the
  descriptor that was checked, with its ``Content-Length``. Nothing from the
  network becomes a path: the id is looked up in the catalog, the format in
  :data:`FORMATS`, and the entry's name is a hex digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import unicodedata
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

from voiceguide.errors import NotFoundError, UsageError

#: ``format=`` -> (media type, extension). MP3 plays everywhere and carries chapters.
FORMATS: Dict[str, Tuple[str, str]] = {"mp3": ("audio/mpeg", ".mp3")}
#: The folder's bound: about ten hours of sessions at 0.49 MB a minute.
CACHE_BYTES = 300 * 1024 * 1024
#: Bump when what a download holds changes in a way none of the key's parts says.
VERSION = 1
CHUNK = 256 * 1024


class BadFormat(UsageError):
    """A ``format=`` we do not make (400)."""


def folder() -> Path:
    from voiceguide.paths import cache_dir

    return cache_dir() / "downloads"


def file_name(title: str, seconds: float, extension: str) -> str:
    """What a person would call the file: ``Body scan - 15 min.mp3`` (no character a file system refuses)."""
    title = unicodedata.normalize("NFC", title)
    title = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in title)
    title = re.sub(r'[/\\:*?"<>|]+', "-", title)
    title = " ".join(title.split()).strip(" .-") or "session"
    title = title[:80].rstrip(" .-")
    minutes = round(seconds / 60)
    length = f"{minutes} min" if seconds >= 59.5 else f"{max(1, round(seconds))} s"
    return f"{title} - {length}{extension}"


def disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` and, for anything else, RFC 6266's ``filename*``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = ascii_name.replace('"', "").replace("\\", "") or "session" + Path(name).suffix
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def render_key(script, options, extension: str) -> str:
    """The digest that names a download: everything its sound depends on (see the module's docstring)."""
    import soundfile

    from voiceguide import __version__
    from voiceguide.audio.loopcache import VERSION as LOOPS
    from voiceguide.paths import speech_cache_dir
    from voiceguide.player.session import Session
    from voiceguide.sinks.file import ENCODING
    from voiceguide.synth.spec import cache_key, normalise_text
    from voiceguide.synth.voices import choose

    described = repr(script)
    files = []
    for name in sorted(set(re.findall(r"PosixPath\('((?:[^'\\]|\\.)*)'\)", described))):
        try:
            info = os.stat(name)
            files.append([name, info.st_size, info.st_mtime_ns])
        except OSError:
            files.append([name, None, None])
    session = Session(script, options)   # only for its voice rules: no synthesizer is started
    memo = speech_cache_dir()
    choices: Dict[Tuple[Optional[str], str], Any] = {}
    speech: List[str] = []
    for text, voice in session.speech():
        if not normalise_text(text):
            continue
        spec = session.spec(voice)
        which = (spec.name, spec.language)
        if which not in choices:
            choices[which] = choose(spec.name, spec.language, memo_dir=memo)
        speech.append(cache_key(text, spec, options.sample_rate, choices[which]))
    parts = {
        "version": VERSION, "voiceguide": __version__, "script": described, "files": files,
        "length": options.length, "ambient": options.ambient, "ambient_db": options.ambient_db,
        "sample_rate": options.sample_rate, "speech": speech, "loops": LOOPS,
        "libsndfile": soundfile.__libsndfile_version__, "encoding": ENCODING.get(extension),
        "extension": extension,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]


class Downloads:
    """Makes and keeps the station's downloads; :meth:`open` is called from a worker thread.

    *options_for* gives the session options for a length (the station's
    :meth:`~voiceguide.station.shared.Playback.session_options`).
    """

    def __init__(self, options_for: Callable[[Optional[float]], Any], where: Optional[Path] = None,
                 limit: int = CACHE_BYTES):
        self.options_for = options_for
        self.where = Path(where) if where is not None else None
        self.limit = limit
        self._render_lock = threading.Lock()
        self.renders = 0   # how many were made (the tests count them)

    @property
    def folder(self) -> Path:
        return self.where if self.where is not None else folder()

    def open(self, ident: str, fmt: str, length: Optional[float]) -> Tuple[int, int, str]:
        """(descriptor, size, file name) of the download; renders it first if it is not kept yet.

        Raises :class:`NotFoundError` (unknown id), :class:`BadFormat`,
        :class:`~voiceguide.errors.ScriptError` (an invalid script) or what
        rendering raises. The caller closes the descriptor.
        """
        from voiceguide import ownfiles
        from voiceguide.player.music_request import check_request
        from voiceguide.script.loader import load
        from voiceguide.station.shared import catalog

        if fmt not in FORMATS:
            raise BadFormat(f"format {fmt[:20]!r} is not made here; ask for format=mp3")
        _, extension = FORMATS[fmt]
        path = catalog().get(ident)
        if path is None:
            from voiceguide.errors import did_you_mean

            raise NotFoundError(f'no exercise "{ident[:80]}"{did_you_mean(ident, list(catalog()))}; '
                                f"GET /api/exercises lists them")
        script = load(path)
        check_request(script, None, required=True)   # a music step needs a piece the station has not got
        options = self.options_for(length)
        entry = self.folder / (render_key(script, options, extension) + extension)
        ownfiles.own_folder(self.folder)
        fd = self._kept(entry)
        if fd is None:
            with self._render_lock:   # one render at a time; the same file is never made twice
                fd = self._kept(entry)
                if fd is None:
                    self._render(script, options, entry)
                    fd = self._kept(entry)
        if fd is None:   # pragma: no cover - removed between the render and the open
            raise UsageError("the download was removed while it was made; ask again")
        size = os.fstat(fd).st_size
        return fd, size, file_name(script.title, self._seconds(fd), extension)

    def _kept(self, entry: Path) -> Optional[int]:
        from voiceguide import ownfiles

        try:
            fd = ownfiles.open_own(entry, os.O_RDONLY, what="download")
        except FileNotFoundError:
            return None
        try:
            os.utime(fd)   # "recently used", for the size bound (access times are not kept under noatime)
        except OSError:
            pass
        return fd

    @staticmethod
    def _seconds(fd: int) -> float:
        """The file's length from its LAME info frame (read through a duplicate of *fd*)."""
        from mutagen.mp3 import MP3

        with os.fdopen(os.dup(fd), "rb") as handle:
            info = MP3(handle).info
        seconds = info.length if info is not None else 0.0
        os.lseek(fd, 0, os.SEEK_SET)
        return float(seconds)

    def _render(self, script, options, entry: Path) -> None:
        from voiceguide.errors import VoiceguideError
        from voiceguide.player.render import render
        from voiceguide.player.session import Session
        from voiceguide.sinks.file import remove_stale

        remove_stale(self.folder)
        try:
            with Session(script, options) as session:
                render(session, entry, replace=False)
        except FileExistsError:   # another station process made it meanwhile: the same sound
            pass
        except UsageError as exc:
            if "cannot be reached" in str(exc):
                from voiceguide.station.app import Unreachable

                raise Unreachable(str(exc)) from None
            raise
        except VoiceguideError:
            raise
        self.renders += 1
        self.prune(keep=entry.name)

    def prune(self, keep: str = "") -> int:
        """Remove the least recently served files until the folder fits :attr:`limit`; how many went."""
        from voiceguide import ownfiles

        try:
            dfd = ownfiles.open_folder(self.folder)
        except FileNotFoundError:
            return 0
        removed = 0
        try:
            with os.scandir(dfd) as entries:
                files = [(e.stat(follow_symlinks=False), e.name) for e in entries
                         if e.is_file(follow_symlinks=False) and e.name.endswith(tuple(e for _, e in
                                                                                       FORMATS.values()))]
            total = sum(info.st_size for info, _ in files)
            for info, name in sorted(files, key=lambda item: item[0].st_mtime_ns):
                if total <= self.limit:
                    break
                if name == keep:
                    continue
                try:
                    os.unlink(name, dir_fd=dfd)
                    removed += 1
                except FileNotFoundError:
                    pass
                total -= info.st_size
        finally:
            os.close(dfd)
        return removed


async def stream(fd: int) -> AsyncIterator[bytes]:
    """The bytes of *fd*, read in a worker thread; the descriptor is closed at the end (or on a hang-up)."""
    from starlette.concurrency import run_in_threadpool

    try:
        while True:
            chunk = await run_in_threadpool(os.read, fd, CHUNK)
            if not chunk:
                break
            yield chunk
    finally:
        os.close(fd)


def endpoint(controller, downloads: Optional[Downloads] = None) -> Callable:
    """The route's handler for *controller*'s station (``route("/api/exercises/{ident}/audio", ...)``)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse

    # asked at each request: the controller's playback settings are its own (a stand-in may have none)
    made = downloads or Downloads(lambda length: controller.playback.session_options(length))

    async def audio(request: Request) -> Response:
        from voiceguide.station.app import check_reach, request_length

        ident = request.path_params["ident"]
        fmt = request.query_params.get("format", "mp3").strip().lower()
        if fmt not in FORMATS:
            raise BadFormat(f"format {fmt[:20]!r} is not made here; ask for format=mp3")
        length = request_length(request.query_params.get("length"))

        def make() -> Tuple[int, int, str]:
            check_reach(ident, length)   # 422 before anything is made, in the words play uses
            return made.open(ident, fmt, length[1] if length else None)

        fd, size, name = await run_in_threadpool(make)
        media_type, _ = FORMATS[fmt]
        headers = {"Content-Length": str(size), "Content-Disposition": disposition(name),
                   "Cache-Control": "private, no-store"}
        if request.method == "HEAD":
            os.close(fd)
            return Response(headers=headers, media_type=media_type)
        return StreamingResponse(stream(fd), media_type=media_type, headers=headers)

    audio.downloads = made  # type: ignore[attr-defined]  # the tests look at it
    return audio
