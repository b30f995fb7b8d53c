"""Concurrent cold renders: 2, 4 and 8 `voiceguide render` at once on one empty cache.

Issue 14: two cold renders at once both died ("clip ... has N samples,
timeline expects M") in 10 of 10 trials. Here, for N in 2, 4 and 8:

* **same**: N renders of one exercise (``palm-pressure``) started together
  on one fresh, empty cache folder (speech and ambient loops);
* **different**: N renders of N different built-in exercises, likewise.

Each row reports how many renders succeeded, the wall time until the last
one finished, and whether identical inputs gave identical files: every file
is compared byte for byte with a reference render of the same exercise made
alone afterwards, on a second, separate empty cache (so "identical" also
means "the same as a render that never shared its cache"). Targets: all
succeed, all identical. Full renders, ambient included. Exits 0 whatever
the figures are.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

SAME = "palm-pressure"
DIFFERENT = ["palm-pressure", "breathing", "acknowledge", "reach-out", "pause-before-habit",
             "creative-outlet", "journal-prompts", "barefoot-walk"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def render_together(scripts, folder: Path):
    """Start one render per script at once on one empty cache; (results, wall seconds)."""
    env = benchlib.env_with_cache(folder / "cache")
    t0 = time.perf_counter()
    procs = []
    for i, script in enumerate(scripts):
        out = folder / f"{i}-{script}.wav"
        procs.append((script, out, subprocess.Popen(benchlib.voiceguide_cmd() + ["render", script, "-o", str(out)],
                                                    env=env, cwd=folder, stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.PIPE, text=True)))
    results = []
    for script, out, proc in procs:
        _, err = proc.communicate()
        results.append((script, out, proc.returncode, err.strip().splitlines()[-1:] if err.strip() else []))
    return results, time.perf_counter() - t0


def reference(script: str, folder: Path, cache: dict) -> str:
    """The digest of *script* rendered alone on its own empty cache (once per script)."""
    if script not in cache:
        out = folder / f"ref-{script}.wav"
        env = benchlib.env_with_cache(folder / f"ref-cache-{script}")
        subprocess.run(benchlib.voiceguide_cmd() + ["render", script, "-o", str(out)], env=env, cwd=folder,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cache[script] = digest(out)
    return cache[script]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="2,4,8", help="how many renders at once (default 2,4,8)")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    print(f"concurrent cold renders ({benchlib.machine()})")
    rows = []
    refs: dict = {}
    with tempfile.TemporaryDirectory(prefix="vg-concurrent-") as tmp:
        root = Path(tmp)
        for n in counts:
            for mode in ("same", "different"):
                scripts = [SAME] * n if mode == "same" else DIFFERENT[:n]
                folder = root / f"{mode}-{n}"
                folder.mkdir()
                results, wall = render_together(scripts, folder)
                ok = [r for r in results if r[2] == 0]
                identical = all(digest(out) == reference(script, root, refs) for script, out, code, _ in ok)
                failures = "; ".join(f"{s}: {e[0] if e else code}" for s, _, code, e in results if code != 0)
                rows.append([n, mode, f"{len(ok)}/{n}", f"{wall:.1f} s", "yes" if identical and ok else "NO",
                             benchlib.verdict(len(ok) == n and identical), failures])
    print(benchlib.table(["renders", "exercises", "succeeded", "wall (all)", "identical to a lone render",
                          "target", "failures"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
