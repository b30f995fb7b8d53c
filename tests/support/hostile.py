"""Hostile conditions for subprocess tests: folders a person cannot read, a full disk, a private HOME.

* :func:`as_user` -- the command prefix that makes permission bits count.
  Root ignores them (CAP_DAC_OVERRIDE), and tests here may run as root
  (containers, CI images): ``setpriv`` drops those capabilities from the
  child, so a ``chmod 000`` folder stops it as it stops a person.
* :func:`on_tiny_disk` -- the command prefix that runs a command with a
  small tmpfs mounted at a folder, in a private mount namespace (``unshare
  -m``, or ``unshare -rm`` as a normal user where user namespaces are
  allowed): a real full disk, gone when the command ends.
* :func:`private_home` -- a HOME and XDG folders of its own, and the
  environment that points at them (the speech cache stays shared).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

VOICEGUIDE = [sys.executable, "-m", "voiceguide"]
#: Words that must never reach a person for an error they can fix.
NEVER = ("Traceback", "internal error", "please report", "Exception ignored", ".vgpart", ".tmp")


def as_user() -> List[str]:
    """Prefix for a child that obeys permission bits even when the tests run as root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        import pytest

        pytest.skip("running as root without setpriv: permission bits cannot be tested")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]


@functools.lru_cache(maxsize=None)
def _unshare_prefix() -> Tuple[str, ...]:
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="vg-mount-probe-") as where:
        for flags in (["-m"], ["-rm"]):
            probe = subprocess.run([unshare, *flags, "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0"', where],
                                   capture_output=True, timeout=30)
            if probe.returncode == 0:
                return (unshare, *flags)
    return ()


def can_fill_a_disk() -> bool:
    return bool(_unshare_prefix())


def on_tiny_disk(folder: Path, kilobytes: int = 256, full: bool = False) -> List[str]:
    """Prefix that runs a command with a *kilobytes* tmpfs mounted at *folder* (which must exist).

    With *full* the disk is filled before the command starts. What is left
    on the disk afterwards is listed, one name a line, in ``<folder>.left``
    beside it (the tmpfs itself is gone with the namespace).
    """
    prefix = _unshare_prefix()
    if not prefix:
        import pytest

        pytest.skip("no private mount namespace here (unshare -m / -rm): a real full disk cannot be made")
    fill = 'head -c 100000000 /dev/zero > "$0/filler" 2>/dev/null; ' if full else ""
    script = (f'mount -t tmpfs -o size={kilobytes}k tmpfs "$0" || exit 99; {fill}'
              '"$@"; rc=$?; find "$0" -mindepth 1 -printf "%P\\n" > "$0.left"; exit $rc')
    return [*prefix, "sh", "-c", script, str(folder)]


def left_on_disk(folder: Path) -> List[str]:
    """What :func:`on_tiny_disk` found on the disk after the command (the filler left out)."""
    names = (folder.parent / (folder.name + ".left")).read_text().split("\n")
    return sorted(n for n in names if n and n != "filler")


def private_home(tmp: Path) -> Tuple[Path, Dict[str, str]]:
    """(home, env): a HOME with its own config, data and state folders; the shared speech cache."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_") or k == "XDG_CACHE_HOME"}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_STATE_HOME=str(home / ".local/state"), PYTHONDONTWRITEBYTECODE="1")
    env.setdefault("XDG_CACHE_HOME", os.environ.get("XDG_CACHE_HOME", str(home / ".cache")))
    env.pop("PULSE_SERVER", None)
    env.pop("VOICEGUIDE_STATION_TOKEN", None)
    return home, env


def run(args, env, prefix=(), timeout=120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, *VOICEGUIDE, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, **kw)


def one_clear_line(result: subprocess.CompletedProcess) -> str:
    """The single stderr line of a failed command, after checking it holds nothing a person should not see."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("voiceguide: "), result.stderr
    for word in NEVER:
        assert word not in result.stderr, result.stderr
    return lines[0]


def restore(*paths: Path) -> None:
    """Give the owner back every permission on *paths* so pytest can clean up."""
    for path in paths:
        if path.exists() or path.is_symlink():
            subprocess.run(["chmod", "-R", "u+rwx", str(path)], capture_output=True)
