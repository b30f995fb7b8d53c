"""Where the station listens: ``--listen HOST:PORT`` parsing, and the file that tells ``ctl``.

When the station has bound its socket it writes ``station.json`` into the
user state folder (``~/.local/state/voiceguide/`` on Linux) with the host,
the port and its process id; ``voiceguide ctl`` reads it to find the
station. The state folder rather than ``$XDG_RUNTIME_DIR``: a timer's
service, a cron job and an SSH login must all find the same file, and only
some of them have a runtime folder.

Traps:

* The file outlives a power cut. A reader must treat it as a hint: the
  process may be gone (:func:`read` checks the pid) and the port may since
  belong to someone else (the token check makes that harmless).
* A station listening on ``0.0.0.0`` or ``::`` is reached on loopback by
  ``ctl``: a wildcard address is not an address one can connect to.
* The file never holds the token.
* One station per user: :func:`hold_lock` takes an ``flock`` on
  ``station.lock`` beside the address file for the station's whole life. A
  second station on the same state folder says where the first one is and
  exits 1, instead of listening on another port, overwriting the address
  file and removing it when it stops (``ctl`` would then say that no
  station runs while the first still plays). The kernel drops the lock
  when the process ends, however it ends: a stale lock file is harmless.
* The address and lock files are opened without following a link planted
  in their place (:mod:`voiceguide.ownfiles`): the address file is written
  into a new file and renamed over the name (a link there is replaced, its
  target untouched), read with ``O_NOFOLLOW``, and removed only by the
  process whose pid it holds.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from voiceguide.errors import EXIT_RUNTIME, UsageError, VoiceguideError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
FILE_NAME = "station.json"
LOCK_NAME = "station.lock"
#: The file holds one short JSON object; anything larger is not ours.
MAX_FILE_BYTES = 4096


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @property
    def connect_host(self) -> str:
        """The host a client on this machine connects to."""
        return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_listen(text: str, what: str = "--listen") -> Address:
    """``HOST:PORT``, ``[::1]:PORT``, ``:PORT`` (loopback) or ``HOST`` (port 8765).

    Port 0 asks the system for any free port (tests do); the file then says which.
    """
    text = (text or "").strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise UsageError(f"{what} {text}: a missing ]; write [::1]:8765")
        host, rest = text[1:end], text[end + 1:]
        if rest and not rest.startswith(":"):
            raise UsageError(f"{what} {text}: write HOST:PORT, for example 127.0.0.1:8765")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif text.count(":") > 1:
        raise UsageError(f"{what} {text}: put an IPv6 address in brackets, as [::1]:8765")
    host = host.strip() or DEFAULT_HOST
    if not port_text:
        return Address(host, DEFAULT_PORT)
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"{what} {text}: the port must be a number from 0 to 65535, for example 8765")
    return Address(host, int(port_text))


def default_address() -> Address:
    return Address(DEFAULT_HOST, DEFAULT_PORT)


def listen_file() -> Path:
    from voiceguide.paths import state_dir

    return state_dir() / FILE_NAME


def write(address: Address, path: Optional[Path] = None) -> Path:
    """Record where this process listens (atomically: a reader never sees half a file)."""
    from voiceguide.atomic import atomic_file

    path = path or listen_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"host": address.host, "port": address.port, "pid": os.getpid(),
                       "url": address.url}) + "\n"
    with atomic_file(path, "w") as f:
        f.write(data)
    return path


def remove(path: Optional[Path] = None) -> None:
    """Remove the file if this process wrote it (a newer station may have replaced it)."""
    path = path or listen_file()
    try:
        if json.loads(_text(path)).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def _text(path: Path) -> str:
    """The file's text; a link, a FIFO or a device in its place (it must never hang ``ctl``) is an OSError."""
    from voiceguide.ownfiles import read_own

    return read_own(path, MAX_FILE_BYTES).decode("utf-8")


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not our station, but alive
        return True
    return True


def read(path: Optional[Path] = None) -> Optional[Tuple[Address, int]]:
    """(address, pid) of the running station, or None when the file is missing or stale."""
    path = path or listen_file()
    try:
        data = json.loads(_text(path))
        address = Address(str(data["host"]), int(data["port"]))
        pid = data.get("pid")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid):
        return None
    return address, pid


class AlreadyRunning(VoiceguideError):
    """Another station runs for this user (it holds the lock)."""

    exit_code = EXIT_RUNTIME


class StationLock:
    """The one-station-per-user lock, held while this object lives (:meth:`release` gives it up)."""

    def __init__(self, fd: int, path: Path):
        self.fd: Optional[int] = fd
        self.path = path

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)   # closing the descriptor drops the flock
            self.fd = None


def lock_file() -> Path:
    return listen_file().with_name(LOCK_NAME)


def hold_lock(path: Optional[Path] = None) -> StationLock:
    """Take the station lock or raise :class:`AlreadyRunning` naming the station that holds it.

    The lock file holds the holder's pid (written after the lock is taken),
    so a second station can name the first even before the first has
    written its address file.
    """
    import fcntl

    from voiceguide.ownfiles import open_own

    path = path or lock_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_own(path, os.O_RDWR | os.O_CREAT, 0o600, what="lock file")
    except OSError as exc:
        raise VoiceguideError(f"{path}: cannot open the station's lock file "
                              f"({getattr(exc, 'reason', None) or exc.strerror or exc})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _holder(fd)
        os.close(fd)
        found = read()
        where = f", at {found[0].url}" if found is not None else ""
        who = f"pid {holder}" if holder else "starting"
        raise AlreadyRunning(f"a station already runs ({who}{where}); `voiceguide ctl status` talks to it, "
                             f"and one station at a time plays for this user") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return StationLock(fd, path)


def _holder(fd: int) -> Optional[int]:
    """The pid written in the lock file open as *fd*, if any."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
