"""Process helpers for the signal tests and the stop benchmark: find, freeze and watch processes.

Linux /proc only (the test machines and a Raspberry Pi). "Hung" is made
real with SIGSTOP: a stopped speech worker or sound server answers nothing,
exactly as a wedged one does, and SIGCONT lets it go again afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable, List, Optional, Tuple

WORKER = "voiceguide.synth.worker"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def children(pid: int) -> List[int]:
    """Every descendant of *pid* (children, their children...)."""
    found: List[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                if kid not in found:
                    found.append(kid)
                    todo.append(kid)
    return found


def workers(pid: int) -> List[int]:
    """The speech workers started by the voiceguide process *pid*."""
    return [kid for kid in children(pid) if WORKER in cmdline(kid)]


def pids_with(marker: str) -> List[int]:
    """Live (not zombie) processes with *marker* as one of their arguments."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in args and state != b"Z":
            found.append(int(pid))
    return found


def alive(pid: int) -> bool:
    """True while *pid* exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_for(condition: Callable[[], object], timeout: float, step: float = 0.01) -> Optional[object]:
    """Poll *condition* until it is truthy (returned) or *timeout* seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return None


def freeze_workers_as_they_start(pid: int, timeout: float = 20.0) -> List[int]:
    """SIGSTOP every speech worker of *pid* as soon as it appears; return their pids.

    A worker needs a few hundred ms to load its engine before it can say
    anything, so polling every 5 ms freezes it before its first clip.
    """
    frozen: List[int] = []
    found = wait_for(lambda: workers(pid), timeout, step=0.005) or []
    for kid in found:
        os.kill(kid, signal.SIGSTOP)
        frozen.append(kid)
    time.sleep(0.3)  # a second worker of the pool may start a moment later
    for kid in workers(pid):
        if kid not in frozen:
            os.kill(kid, signal.SIGSTOP)
            frozen.append(kid)
    return frozen


def thaw(pids: List[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def loaded_after(tmp_path: Path, *args: str) -> Tuple[str, List[str]]:
    """(exit code, modules loaded) when ``voiceguide ARGS`` has finished, in a fresh interpreter.

    A private HOME and XDG folders under *tmp_path*, a bare PATH; the exit
    code is ``"?"`` and the list empty if the child never got as far as saying.
    """
    code = textwrap.dedent("""
        import sys
        from voiceguide.cli import main
        sys.argv = ["voiceguide"] + sys.argv[1:]
        try:
            main()
        except SystemExit as end:
            code = end.code
        else:
            code = 0
        sys.stderr.write("EXIT %s\\nMODULES %s\\n" % (code, " ".join(sorted(sys.modules))))
    """)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    lines = dict(line.split(" ", 1) for line in done.stderr.splitlines() if line.startswith(("EXIT ", "MODULES ")))
    return lines.get("EXIT", "?"), lines.get("MODULES", "").split()
