"""The station's token: made on first start, kept in a file only the user can read.

Every request to the station carries it (``Authorization: Bearer TOKEN``);
``voiceguide ctl`` reads it from the same file. ``VOICEGUIDE_STATION_TOKEN``,
when set and not empty, is the token instead (for a service manager that
hands out secrets, or a test).

Traps:

* The file is created with ``O_CREAT | O_EXCL`` and mode 0600 in one call:
  writing it first and ``chmod``-ing it after would leave a moment in which
  another user could read it.
* A token file that others can read (copied with ``cp`` into a folder with a
  loose umask, say) is refused with a line that says how to fix it, rather
  than silently trusted.
* Compare with :func:`matches` (``hmac.compare_digest``), never ``==``: the
  time an ``==`` takes tells an attacker how many leading characters were right.
* Never log a token, nor a request line that carries one.
* Never through a link (:mod:`voiceguide.ownfiles`): a symbolic link in the
  token file's place is refused with a line that names it, whether it points
  at a file (which would then be trusted as the token, or replaced) or at
  nothing (``O_CREAT`` would make the file wherever it points).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import Mapping, Optional

from voiceguide.errors import VoiceguideError
from voiceguide.ownfiles import NOFOLLOW

ENV = "VOICEGUIDE_STATION_TOKEN"
FILE_NAME = "station-token"
#: A token is a line of 43 characters; a file much larger is not one (and is not read whole).
MAX_TOKEN_FILE = 4096
#: 32 random bytes, URL-safe: fits in a header, a cookie and a pairing address.
TOKEN_BYTES = 32
#: The shortest token a station accepts (from the environment or a hand-written file): a
#: short one could be guessed, slow-down or not, by a station left running for weeks.
MIN_TOKEN_CHARS = 16


class TokenError(VoiceguideError):
    """The token file cannot be read or made, or is readable by others."""


def token_path() -> Path:
    """``<user config dir>/voiceguide/station-token`` (``~/.config/voiceguide/`` on Linux)."""
    from voiceguide.paths import config_dir

    return config_dir() / FILE_NAME


def _from_env(environ: Optional[Mapping[str, str]]) -> Optional[str]:
    environ = os.environ if environ is None else environ
    value = (environ.get(ENV) or "").strip()
    return value or None


def read_token(path: Optional[Path] = None, environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The token from the environment or the file, or None when there is none yet."""
    value = _from_env(environ)
    if value:
        return value
    path = path or token_path()
    from voiceguide.ownfiles import PlantedLink, read_own, refuse_link
    from voiceguide.readfile import NotRegularFile, kind_of

    try:
        info = refuse_link(path, "station token")
    except PlantedLink as exc:
        raise TokenError(str(exc)) from None
    except OSError as exc:
        raise TokenError(f"{path}: cannot read the station token ({exc.strerror})") from None
    if info is None:
        return None
    if not stat.S_ISREG(info.st_mode):  # a FIFO here would hang every request that checks the token
        raise TokenError(f"{path}: the station token is {kind_of(info.st_mode)}, not a file; "
                         f"delete it to make a new one")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenError(f"{path}: the station token is readable by other users; "
                         f"run `chmod 600 {path}` (or delete it to make a new one)")
    try:
        value = read_own(path, MAX_TOKEN_FILE, "station token").decode("utf-8").strip()
    except PlantedLink as exc:  # put there since the look above
        raise TokenError(str(exc)) from None
    except NotRegularFile as exc:
        raise TokenError(f"{path}: the station token is {exc.kind}, not a file; delete it to make a new one") \
            from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"{path}: cannot read the station token ({exc}); delete it to make a new one") from None
    if not value:
        raise TokenError(f"{path}: the station token file is empty; delete it to make a new one")
    return value


def ensure_token(path: Optional[Path] = None, environ: Optional[Mapping[str, str]] = None) -> str:
    """The token, making the file (mode 0600) on first use; one shorter than 16 characters is refused."""
    existing = read_token(path, environ)
    if existing:
        if len(existing) < MIN_TOKEN_CHARS:
            fix = (f"set {ENV} to a longer one, or unset it to use the token file" if _from_env(environ)
                   else "`voiceguide station --new-token` makes a good one")
            size = f"{len(existing)} character{'' if len(existing) == 1 else 's'}"
            raise TokenError(f"the station token ({ENV if _from_env(environ) else path or token_path()}) is "
                             f"{size} long; it needs at least {MIN_TOKEN_CHARS}: {fix}")
        return existing
    path = path or token_path()
    value = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600)
    except FileExistsError:  # another process made it first (or put a link there): use theirs, or refuse
        return read_token(path, environ) or value
    except OSError as exc:
        raise TokenError(f"{path}: cannot make the station token ({exc.strerror}); "
                         f"check that the folder is yours and writable") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    return value


def matches(given: Optional[str], token: str) -> bool:
    """Whether *given* is the token, in time that does not depend on where they differ."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def new_token(path: Optional[Path] = None, environ: Optional[Mapping[str, str]] = None) -> Path:
    """Replace the token file with a new token (``voiceguide station --new-token``).

    Written beside the old one with mode 0600 and renamed over it, so there is
    never a moment with no token, a half-written one, or one others can read.
    Refused while ``VOICEGUIDE_STATION_TOKEN`` decides the token: a new file
    would change nothing.
    """
    if _from_env(environ):
        raise TokenError(f"the token comes from {ENV}; change it there (the token file is not used)")
    path = path or token_path()
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.new")
    from voiceguide.ownfiles import PlantedLink, refuse_link

    try:
        refuse_link(path, "station token")  # a link is the person's to remove, not ours to replace
    except PlantedLink as exc:
        raise TokenError(str(exc)) from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(temp), os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_urlsafe(TOKEN_BYTES) + "\n")
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise TokenError(f"{path}: cannot write a new station token ({exc.strerror}); "
                         f"check that the folder is yours and writable") from None
    return path


class TokenFile:
    """The token as a running station sees it: re-read when its file changes.

    Checking costs one ``stat`` a request; a token replaced by ``--new-token``
    then counts at once, and phones paired with the old one must pair again,
    which is what someone who lost a phone wants. The environment variable,
    when set, wins and never changes. A file that has gone or cannot be read
    keeps the last good token (a half-finished edit must not lock everyone
    out, nor let anyone in).
    """

    def __init__(self, token: str, path: Optional[Path] = None, environ: Optional[Mapping[str, str]] = None):
        self.path = path or token_path()
        self.fixed = _from_env(environ) is not None
        self.environ = environ
        self._token = token
        self._stamp = self._stat()

    def _stat(self):
        try:
            info = os.lstat(self.path)  # a link planted here is refused by read_token, never followed
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_ino, info.st_size)

    def __call__(self) -> str:
        if self.fixed:
            return self._token
        stamp = self._stat()
        if stamp is not None and stamp != self._stamp:
            try:
                value = read_token(self.path, self.environ)
            except TokenError:
                value = None
            if value:
                self._token = value
                self._stamp = stamp
        return self._token
