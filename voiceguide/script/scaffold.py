"""``voiceguide new``: a commented starting script, or a copy of an exercise to change.

Why a scaffold: the quickest way to learn a format is a small file that
already works, with a comment on every line that matters. The template is
checked by the tests with the real loader and rendered with the real engine.

Files are written atomically and never over an existing file unless asked
(``force``): a user's own exercise may be the only copy of their work.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional, Tuple

from voiceguide.errors import FileAccessError, OutputExists, UsageError, file_error
from voiceguide.visible import visible

#: An exercise id ``new`` makes; always ``fullmatch``-ed (``$`` would let a final newline through).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

HEADER = "# voiceguide exercise, format v1"

TEMPLATE = """\
{modeline}{header}
#
# {title}: your own exercise. Change anything; then
#   voiceguide validate {shown}     checks it (file:line:col for each problem)
#   voiceguide preview {ident}      shows its timeline without sound
#   voiceguide play {ident}         plays it
# The whole format, every key with an example: docs/authoring.md.

title: {title}
summary: A short pause to arrive in the body.   # one line, shown by `voiceguide list`
language: en
voice:
  rate: 140          # words per minute; 120 to 150 sounds calm
  volume: 0.9        # 0 to 1
ambient:             # background for the whole session (optional)
  - drone: A2        # a note name or a frequency in Hz
    level: -30 dB
  - noise: pink      # white, pink or brown
    level: -38 dB
duck: 8 dB           # how far the ambient bed dips under the voice

steps:
  - bell: bowl       # bowl, chime or gong
  - section: Arriving
  - say: Welcome. You may stop at any time, and simply open your eyes.
    pause: 3s        # silence after the words
  - say: Let your feet rest on the floor, and your hands rest in your lap.
    pause: 5s
    stretch: 2       # with --length this pause grows twice as much; 0 keeps it fixed

  - section: Noticing
  - repeat: 2
    steps:
      - say: Breathe in slowly, and notice where you feel the breath.
        pause: 4s
      - say: Breathe out, and let your shoulders soften.
        pause: 6s
  # More kinds of step to copy (remove the # to use one):
  # - pause: 10s
  # - count: 5                                    # one .. five, a second apart
  # - breathe: {{inhale: 4s, exhale: 6s, cycles: 5}}
  # - walk: {{duration: 2m, cadence: 40}}
  # - include: my-opening                         # the steps of another script

  - section: Closing
  - say: When you are ready, open your eyes, and take your time coming back.
    pause: 3s
  - bell: bowl
"""


SCHEMA_NAME = "voiceguide.schema.json"


def shipped_schema() -> Path:
    """The schema shipped beside the built-in scripts.

    ``scripts/voiceguide.schema.json`` in a source checkout, and
    ``voiceguide/scripts/voiceguide.schema.json`` in an installed wheel: the
    built-ins' first line names it relatively, so it resolves in both.
    """
    from voiceguide.script.catalog import builtin_dir

    return builtin_dir() / SCHEMA_NAME


def schema_for(target: Path) -> Path:
    """The schema file *target*'s first line should name.

    Beside the target when the target is in the user's scripts folder (where
    ``new`` keeps a copy, so copies of built-ins resolve there too) or in a
    folder that already holds a voiceguide schema (the built-ins' own);
    otherwise the copy in the user's scripts folder, named by an absolute
    ``file://`` URI. Never the source checkout or the installed package:
    those move (a new clone, a new Python), the user's config folder does not.
    """
    from voiceguide.script.catalog import user_dir

    folder = _resolved(target.parent)
    beside = folder / SCHEMA_NAME
    if folder == _resolved(user_dir()) or is_our_schema(beside):
        return beside
    return _resolved(user_dir()) / SCHEMA_NAME


def modeline(target: Path) -> str:
    """``# yaml-language-server: $schema=...`` naming :func:`schema_for` *target*.

    Relative (``voiceguide.schema.json``) when the schema is beside the
    target, so the line keeps working when the folder is moved or copied;
    an absolute ``file://`` URI otherwise, so it keeps working wherever the
    file itself is moved on this machine. :func:`write_schema` must put the
    schema there (``voiceguide new`` does).
    """
    schema = schema_for(target)
    ref = SCHEMA_NAME if schema.parent == _resolved(target.parent) else schema.as_uri()
    return f"# yaml-language-server: $schema={ref}\n"


def is_our_schema(path: Path) -> bool:
    """Whether *path* is a voiceguide schema (any version): safe to refresh."""
    from voiceguide.script.schema import SCHEMA_ID

    from voiceguide.readfile import read_regular

    try:  # bounded and non-blocking: a FIFO of that name is not ours, and must not hang `new`
        head = read_regular(path, 4096, head=True).decode("utf-8", "replace")
    except OSError:
        return False
    return f'"$id": "{SCHEMA_ID}"' in head


def write_schema(path: Path) -> bool:
    """Make *path* the current schema; True when it was written.

    Trap: a file of that name that is not a voiceguide schema is someone
    else's and is left alone (:class:`UsageError`); a stale voiceguide schema
    (an older version) is replaced, atomically.
    """
    from voiceguide.script.schema import dumps

    text = dumps()
    if path.exists():
        if not is_our_schema(path):
            raise UsageError(f"{path} exists and is not a voiceguide schema; editors will not check"
                             " the new script until you rename that file")
        wanted = text.encode("utf-8")
        from voiceguide.readfile import read_regular

        if read_regular(path, len(wanted) + 1, head=True) == wanted:
            return False
    write_new(path, text, force=True)
    return True


def provide_schema(target: Path) -> Optional[str]:
    """Write the schema that *target*'s modeline names; a warning line if that failed.

    Never an error: the script is worth having without editor support.
    """
    schema = schema_for(target)
    try:
        write_schema(schema)
    except UsageError as exc:
        return str(exc)
    except FileAccessError as exc:
        return f"{exc} (the editor schema: editors will not check the new script without it)"
    except OSError as exc:
        return (f"cannot write the editor schema {schema} ({exc.strerror or exc});"
                " editors will not check the new script")
    return None


def _resolved(path: Path) -> Path:
    try:
        return Path(path).expanduser().resolve()
    except (OSError, RuntimeError):  # pragma: no cover - a symlink loop
        return Path(os.path.abspath(path))


def title_of(name: str) -> str:
    """``my-calm-minute`` -> ``My calm minute``."""
    words = re.split(r"[-_]+", name)
    text = " ".join(w for w in words if w)
    return text[:1].upper() + text[1:]


def exercise_id(name: str) -> str:
    """The exercise id for *name* (a trailing .yaml is dropped), or a UsageError."""
    stem = name[:-5] if name.endswith(".yaml") else name[:-4] if name.endswith(".yml") else name
    if not _NAME.fullmatch(stem):
        raise UsageError(f'"{visible(name)}" cannot be an exercise id: use letters, digits, - and _'
                         " (e.g. my-check-in), or give a file with -o PATH")
    return stem


def split_name(name: str, output: Optional[Path]) -> Tuple[str, Optional[Path]]:
    """``new``'s NAME and ``-o``: ``(exercise name, file to write or None)``.

    A NAME with a folder in it (``~/my-practice.yaml``, ``./x.yaml``) is the
    file to write, named after its stem (``.yaml`` is added when it has no
    YAML suffix); a bare name (``midday-pause``, even ``midday-pause.yaml``)
    is an exercise id for the user's scripts folder, as before.
    """
    from voiceguide.script.catalog import SUFFIXES

    if "/" not in name and "\\" not in name and not name.startswith("~"):
        exercise_id(name)
        return name, output
    if output is not None:
        raise UsageError(f"give the file either as NAME ({name}) or with -o, not both")
    path = Path(name).expanduser()
    if path.suffix not in SUFFIXES:
        path = path.with_name(path.name + ".yaml")
    if not _NAME.fullmatch(path.stem):
        raise UsageError(f'"{visible(path.name)}": the file name becomes the exercise\'s id; use letters, digits, '
                         "- and _ before .yaml (e.g. my-check-in.yaml)")
    return path.stem, path


def shadowed_builtin(target: Path) -> Optional[str]:
    """The built-in id that *target* replaces (a file of that id in the user's folder), or None."""
    from voiceguide.script.catalog import SUFFIXES, builtin_dir

    if target.suffix not in SUFFIXES or _resolved(target.parent) != _resolved(_user_dir()):
        return None
    return target.stem if any((builtin_dir() / f"{target.stem}{s}").is_file() for s in SUFFIXES) else None


def shown_name(target: Path) -> str:
    """How a person names *target* in a command: its id in the scripts folder, else its path."""
    return target.stem if _resolved(target.parent) == _resolved(_user_dir()) else str(target)


def target_for(name: str, output: Optional[Path]) -> Path:
    """Where ``new`` writes: *output*, else ``<user scripts>/<name>.yaml``."""
    from voiceguide.script.catalog import user_dir

    if output is not None:
        return Path(output)
    return user_dir() / f"{exercise_id(name)}.yaml"


def starting_script(name: str, target: Path) -> str:
    """The commented template for a new exercise called *name*."""
    ident = target.stem
    return TEMPLATE.format(modeline=modeline(target), header=HEADER, title=title_of(exercise_id(name)),
                           ident=ident if target.parent == _user_dir() else str(target),
                           shown=shown_name(target))


def copy_of(source_id: str, name: str, target: Path) -> str:
    """The text of exercise *source_id* with a new header comment naming the copy.

    The leading comment block (and any old schema line) is replaced; every
    other line, comments included, is kept as written.
    """
    from voiceguide.script.catalog import resolve
    from voiceguide.script.loader import load

    path = resolve(source_id)
    script = load(path)  # a copy of a broken script helps nobody: fail here, located
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    body = 0
    while body < len(lines) and (lines[body].startswith("#") or not lines[body].strip()):
        body += 1
    header = (
        f"{modeline(target)}{HEADER}\n"
        "#\n"
        f"# {exercise_id(name)}: your own copy of \"{script.title}\" (from {source_id}).\n"
        f"# Change anything; `voiceguide validate {shown_name(target)}` checks it.\n"
        "\n"
    )
    return header + "".join(lines[body:])


def _user_dir() -> Path:
    from voiceguide.script.catalog import user_dir

    return user_dir()


def write_new(path: Path, text: str, force: bool = False) -> None:
    """Write *text* to *path* atomically; refuse an existing file unless *force*.

    Trap: a plain ``exists()`` check then ``replace`` could still clobber a
    file created in between; without *force* the finished temporary file is
    hard-linked into place, which fails if the name is taken (where hard
    links are not supported, :func:`voiceguide.atomic.place` checks, then
    renames). The file gets the usual permissions (0666 less the umask),
    not mkstemp's 0600.
    """
    path = Path(path)
    try:
        _write_new(path, text, force)
    except FileExistsError:
        raise OutputExists(path) from None
    except OSError as exc:  # a folder that cannot be written, a full disk: named as the person gave it
        raise file_error(path, exc, "write it") from None


def _write_new(path: Path, text: str, force: bool) -> None:
    from voiceguide.atomic import atomic_file, make_folder

    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a file name ending in .yaml")
    if os.path.lexists(path) and not force:
        raise OutputExists(path)
    make_folder(path.parent)
    # public: mkstemp makes 0600, and a file a person asked for is not private;
    # without force the finished file is linked into place (atomic.place), never over another
    with atomic_file(path, "w", public=True, replace=force, encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
