"""Small helpers shared by the benchmark scripts (not a test harness).

The real audio devices come from ``tests/support/audio_env.py`` (imported, not
copied): :func:`audio_env` puts the checkout on ``sys.path`` and returns it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent


def audio_env():
    """The tests' ``audio_env`` module (PulseNullSink, alsa_file_home, ...)."""
    root = str(ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests.support import audio_env  # noqa: E402

    return audio_env


def voiceguide_cmd() -> List[str]:
    """The installed console script next to this Python (what a user runs)."""
    exe = shutil.which("voiceguide", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "voiceguide"]


def play_stderr(target: str, env: Dict[str, str], extra: Sequence[str] = (),
                stop_after: Optional[float] = None, timeout: float = 60.0) -> Tuple[str, int]:
    """``voiceguide play TARGET -v EXTRA``: its stderr and exit code.

    With *stop_after*, SIGTERM after that many seconds (it fades and exits);
    a run that outlives *timeout* is killed.
    """
    proc = subprocess.Popen(voiceguide_cmd() + ["play", target, "-v", *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    if stop_after is not None:
        try:
            proc.wait(stop_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err, proc.returncode


def env_with_cache(cache: Optional[Path], base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """*base* (default: this environment) with XDG_CACHE_HOME set to *cache* (if given)."""
    env = dict(base if base is not None else os.environ)
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    return env


def seed_models(source_cache: Path, cache: Path) -> Path:
    """*cache* (an ``XDG_CACHE_HOME``) with no speech clip but what *source_cache* keeps of a voice.

    A person's machine keeps a voice's optimised model (``models/``, see
    ``synth/engines/piper.py``), the voice the early worker loads first
    (``models/next-worker.json``, see ``synth/prestart.py``) and the model's
    remembered digest (``digests.json``) after the voice's first use; a new
    script's clips are still cold. Returns *cache*.
    """
    speech = Path(source_cache) / "voiceguide" / "speech"
    target = Path(cache) / "voiceguide" / "speech" / "models"
    target.mkdir(parents=True, exist_ok=True)
    for path in (speech / "models").glob("piper-*"):
        if path.is_dir():   # a saved model: its graph and mapped weights, or (a small machine's) its two halves
            shutil.copytree(path, target / path.name)
        elif path.is_file():   # before format 4: one file
            shutil.copyfile(path, target / path.name)
    guess = speech / "models" / "next-worker.json"   # the voice the early worker loads first (synth/prestart.py)
    if guess.is_file():   # its paths point into the cache it was written in: here, this one
        (target / guess.name).write_text(guess.read_text().replace(str(speech), str(target.parent)))
    if (speech / "digests.json").is_file():
        shutil.copyfile(speech / "digests.json", target.parent / "digests.json")
    return Path(cache)


def session_duration(script: str, env: Dict[str, str], length: Optional[str] = None) -> float:
    """Seconds, from ``voiceguide preview --json`` (synthesises what is not cached)."""
    args = voiceguide_cmd() + ["preview", script, "--json"] + (["--length", length] if length else [])
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return float(json.loads(out)["duration"])


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain, aligned text table."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model or 'unknown CPU'}, Python {sys.version.split()[0]}"


def process_tree(pid: int) -> Dict[int, Tuple[List[bytes], int]]:
    """*pid* and its descendants (Linux /proc): ``{pid: (command line, resident bytes)}``."""
    children: Dict[int, List[int]] = {}
    info: Dict[int, Tuple[List[bytes], int]] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
            children.setdefault(int(fields[1]), []).append(int(entry))
            info[int(entry)] = (cmd, int(fields[21]) * page)
        except (OSError, IndexError, ValueError):
            continue
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        if p in info:
            out[p] = info[p]
        todo.extend(children.get(p, []))
    return out
