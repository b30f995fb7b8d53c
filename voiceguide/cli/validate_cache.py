"""``validate``'s answers, kept between runs for the scripts in the folders ``list`` fingerprints (issue 24).

Checking a script takes the loader and its grammar (~50 ms a run here).
What ``validate`` prints for a file (its warnings, or its problems as
``file:line:col: message`` lines) depends only on the file, on what it may
include or play (inside its own folder, the user's scripts folder, the
built-in scripts and sounds) and on the name it was given by (the lines
name the file as given, relative to the current folder). So for a file
inside the built-in scripts or the user's scripts folder the answer is kept
in ``<user cache dir>/voiceguide/validate-results.json``, keyed by the
current folder, the name as given, and the file's stat, under the same
context as ``list``'s rows (:func:`voiceguide.cli.list_cache.context`: every
file in those folders, the variables, voiceguide's version). Any change
there, or a file elsewhere, is checked by the loader as before; ``--lint``
always is. The file is read and written as ``list``'s: through
:mod:`voiceguide.ownfiles`, a damaged, foreign or linked one ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

from voiceguide.cli.list_cache import FORMAT, _file, _Unsure, context, kept_in

NAME = "validate-results.json"
#: Answers kept at most (the newest first): a few dozen scripts are usual.
MAX_KEPT = 500


def cache_file() -> Path:
    from voiceguide.paths import cache_dir

    return cache_dir() / NAME


def _inside(path: Path, folder: str) -> bool:
    try:
        return os.path.commonpath([str(path), folder]) == folder
    except ValueError:
        return False


class Results:
    """The answers kept from an earlier ``validate``, and those made now."""

    def __init__(self, here: Optional[Dict[str, Any]], kept: Dict[str, Any], path: Path):
        self.context = here
        self.kept = kept
        self.path = path
        self.made: Dict[str, Any] = {}
        folders = here["trees"] if here is not None else {}
        self.folders = [str(Path(folders[k][0]).resolve()) for k in ("scripts", "yours") if k in folders]

    @classmethod
    def load(cls) -> "Results":
        path = cache_file()
        here = context()
        return cls(here, kept_in(path, here, "results"), path)

    def _key(self, name: str, path: Path) -> Optional[str]:
        """The key of *path* given as *name*, or None when its answer is not kept (a file elsewhere)."""
        if self.context is None:
            return None
        try:
            real = Path(os.path.abspath(path))
            # Both as named and where it leads: a folder linked in from elsewhere is not fingerprinted.
            if not all(any(_inside(p, folder) for folder in self.folders)
                       for p in (real, Path(os.path.realpath(path)))):
                return None
            return json.dumps([os.getcwd(), name, str(path), str(real)])
        except OSError:
            return None

    def answer(self, name: str, path: Path) -> Optional[Dict[str, Any]]:
        """``{"lines": [...], "invalid": bool}`` as validate printed it for this file before, or None."""
        key = self._key(name, path)
        held = self.kept.get(key) if key is not None else None
        try:
            if (not isinstance(held, dict) or set(held) != {"file", "lines", "invalid"}
                    or not isinstance(held["invalid"], bool) or not isinstance(held["lines"], list)
                    or not all(isinstance(line, str) for line in held["lines"])
                    or held["file"] != _file(path)):
                return None
        except _Unsure:
            return None
        assert key is not None
        self.made[key] = held
        return held

    def keep(self, name: str, path: Path, lines: List[str], invalid: bool) -> None:
        key = self._key(name, path)
        if key is None:
            return
        try:
            self.made[key] = {"file": _file(path), "lines": list(lines), "invalid": invalid}
        except _Unsure:
            self.made.pop(key, None)

    def save(self) -> None:
        """Write this run's answers and the newest kept ones (when one was made now); failures cost only time."""
        if self.context is None or all(self.kept.get(k) == v for k, v in self.made.items()):
            return
        results = dict(self.made)
        for key, value in self.kept.items():
            if len(results) >= MAX_KEPT:
                break
            results.setdefault(key, value)
        from voiceguide.atomic import atomic_file
        from voiceguide.ownfiles import own_folder, refuse_link

        try:
            own_folder(self.path.parent)
            refuse_link(self.path)
            with atomic_file(self.path, "w", encoding="utf-8") as out:
                json.dump({"format": FORMAT, "context": self.context, "results": results}, out)
        except OSError:
            pass
