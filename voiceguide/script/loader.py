"""Load exercise scripts (format v1) into the immutable :mod:`voiceguide.script.model`.

Three entry points::

    load(path)                    -> Script, or raises ScriptError
    load_text(text, filename)     -> Script, or raises ScriptError
    check(path)                   -> [Problem, ...]   ([] when valid)

A :class:`~voiceguide.errors.ScriptError` holds *every* problem found in the
file, each located at ``file:line:col`` (1-based) and worded for the person
who wrote the script: what is wrong, then what to do.

How parsing stays safe and fast:

* PyYAML (libyaml when available) only *parses*: we pull its events and build
  the node tree ourselves (:class:`_Composer`). Nothing is ever constructed
  from a tag; only scalars are converted, by a ``SafeConstructor``, and only
  when their tag is one of the plain YAML types. ``!!python/...`` or custom
  ``!tags`` are located errors.
* Building the tree ourselves lets us refuse hostile input while it is read,
  without recursion: nesting deeper than ``MAX_DEPTH``, more than
  ``MAX_NODES`` nodes with every alias counted as the whole node it repeats
  (a "billion laughs" file stops at the alias that crosses the limit, in
  microseconds), recursive and undefined aliases.
* Before parsing: the file size (checked before reading), NUL bytes (binary
  or UTF-16), invalid UTF-8 and characters YAML forbids are located errors.

Trap: ``load`` refuses anything but a regular file (a FIFO or a device would
block or never end) and reads at most ``MAX_FILE_BYTES + 1`` bytes, so a file
that grows past the limit while it is read is refused too.
"""

from __future__ import annotations

import functools
import math
import re
import stat
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import grammar as g
from . import units
from ..errors import Problem, ScriptError, did_you_mean
from .grammar import DEFAULT_BELL_DB, DEFAULT_CADENCE, DEFAULT_LEVELS, STEP_NAMES, TOP_KEYS
from .model import (
    BELL_SECONDS,
    DEFAULT_DUCK_DB,
    DEFAULT_RATE,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    MAX_SESSION_SECONDS,
    MAX_STEPS,
    MAX_TEXT_CHARS,
    Bell,
    Breathe,
    Count,
    Drone,
    Noise,
    Pause,
    Repeat,
    Say,
    Script,
    Section,
    SoundLoop,
    Source,
    Voice,
    Walk,
)

__all__ = ["load", "load_text", "check"]

_Loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

#: A script with more problems than this is reported up to here, then a note.
MAX_PROBLEMS = 100

#: How deep includes may nest (a includes b includes c ...).
MAX_INCLUDE_DEPTH = 8

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_STR_TAG = _TAG + "str"
_SEQ_TAG = _TAG + "seq"
_MAP_TAG = _TAG + "map"

#: Characters YAML does not allow in a stream: PyYAML's own, already compiled.
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_LANGUAGE = re.compile(g.LANGUAGE_PATTERN)

# Key lists, all from the grammar table (voiceguide.script.grammar).
VOICE_KEYS = g.VOICE.names()
LAYER_KINDS = tuple(g.LAYER_KINDS)
BREATHE_KEYS = g.BREATHE.names()
WALK_KEYS = g.WALK.names()
STEP_KINDS = STEP_NAMES

#: The options each step kind takes besides its kind key.
STEP_OPTIONS: Dict[str, Tuple[str, ...]] = {name: k.option_names() for name, k in g.STEPS.items()}

_KINDS_TEXT = ", ".join(STEP_KINDS)


@functools.lru_cache(maxsize=1)
def _builtin_sounds_dir() -> Path:
    """The folder of the built-in sounds (package ``voiceguide.sounds``)."""
    from importlib.resources import files

    root = files("voiceguide.sounds")
    return root if isinstance(root, Path) else Path(str(root))


# --- entry points -------------------------------------------------------------


def load(path: Union[str, Path]) -> Script:
    """Read and validate the script at *path*; raise :class:`ScriptError`.

    Problems name the file as given (``str(path)``). A file that cannot be
    read at all (missing, a folder, no permission) is a ScriptError too, with
    one problem at 1:1.
    """
    return _load_file(path, ())


def _load_file(path: Union[str, Path], stack: Tuple[Path, ...]) -> Script:
    """:func:`load`, inside the includes in *stack* (resolved paths, outermost first)."""
    name = str(path)
    p = Path(path)
    try:
        info = p.stat()
        if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
            raise ScriptError(
                [Problem(name, 1, 1, "cannot read the script: it is not a regular file; check the path")]
            )
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise ScriptError([_too_big(name, size)])
        with open(p, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        if p.is_dir():
            what = "it is a folder, not a script file"
        else:
            what = exc.strerror or str(exc)
        raise ScriptError([Problem(name, 1, 1, f"cannot read the script: {what}; check the path")]) from None
    return _load_text(data, name, p.parent, stack)


def load_text(text: Union[str, bytes], filename: str, base_dir: Optional[Path] = None) -> Script:
    """Validate a script held in memory; ``filename`` is used in problems.

    ``base_dir`` is where relative ``sound:`` and ``include:`` paths are
    looked up first; it defaults to the folder of ``filename``.
    """
    return _load_text(text, filename, base_dir, ())


def _load_text(text: Union[str, bytes], filename: str, base_dir: Optional[Path],
               stack: Tuple[Path, ...]) -> Script:
    filename = str(filename)
    path = Path(filename)
    if base_dir is None:
        base_dir = path.parent
    problems = _Problems(filename)
    script = None
    decoded = _decode(text, problems)
    if decoded is not None:
        root = _Composer(decoded, problems).compose()
        if root is not None:
            script = _Builder(problems, Path(base_dir), path, stack).script(root)
        elif not problems:
            problems.add(1, 1, "the file is empty; a script needs at least 'title:' and 'steps:'")
    if problems or script is None:
        raise ScriptError(problems.final())
    return script


def check(path: Union[str, Path]) -> List[Problem]:
    """Every problem in the script at *path*; ``[]`` when it is valid."""
    try:
        load(path)
    except ScriptError as exc:
        return list(exc.problems)
    return []


# --- problems -----------------------------------------------------------------


class _Fatal(Exception):
    """Stop reading: the rest of the file cannot be trusted or is too costly."""


class _Problems:
    def __init__(self, file: str):
        self.file = file
        self._seen: Dict[Tuple[int, int, str], None] = {}

    def add(self, line: int, col: int, message: str) -> None:
        self._seen.setdefault((max(1, line), max(1, col), message), None)

    def at(self, mark: Any, message: str) -> None:
        """Add a problem at a YAML mark (0-based line and column)."""
        self.add(mark.line + 1, mark.column + 1, message)

    def __bool__(self) -> bool:
        return bool(self._seen)

    def final(self) -> List[Problem]:
        found = sorted(self._seen)
        out = [Problem(self.file, line, col, msg) for line, col, msg in found[:MAX_PROBLEMS]]
        if len(found) > MAX_PROBLEMS:
            line, col, _ = found[MAX_PROBLEMS]
            out.append(
                Problem(
                    self.file,
                    line,
                    col,
                    f"{len(found) - MAX_PROBLEMS} more problems not shown; fix the ones above first",
                )
            )
        return out


def _too_big(name: str, size: int) -> Problem:
    return Problem(
        name,
        1,
        1,
        f"the file is {size} bytes, more than the limit of {MAX_FILE_BYTES} bytes;"
        " split it into smaller scripts",
    )


# --- bytes to text ----------------------------------------------------------------


def _decode(text: Union[str, bytes], problems: _Problems) -> Optional[str]:
    """Text from *text*, or None after adding a problem."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
        if len(data) > MAX_FILE_BYTES:
            p = _too_big(problems.file, len(data))
            problems.add(p.line, p.col, p.message)
            return None
        nul = data.find(b"\x00")
        if nul >= 0:
            line, col = _byte_position(data, nul)
            problems.add(line, col, _NUL_MESSAGE)
            return None
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, col = _byte_position(data, exc.start)
            problems.add(
                line,
                col,
                f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} here);"
                " save it as UTF-8 text",
            )
            return None
    else:
        decoded = str(text)
        if len(decoded.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
            size = len(decoded.encode("utf-8", "surrogatepass"))
            p = _too_big(problems.file, size)
            problems.add(p.line, p.col, p.message)
            return None
        nul = decoded.find("\x00")
        if nul >= 0:
            line, col = _char_position(decoded, nul)
            problems.add(line, col, _NUL_MESSAGE)
            return None
    if decoded.startswith("\ufeff"):
        decoded = decoded[1:]
    bad = _NON_PRINTABLE.search(decoded)
    if bad:
        line, col = _char_position(decoded, bad.start())
        problems.add(
            line,
            col,
            f"the file contains the character U+{ord(bad.group()):04X}, which YAML does"
            " not allow; delete it (use \\t or \\n escapes inside double quotes if you meant one)",
        )
        return None
    return decoded


_NUL_MESSAGE = (
    "the file contains a NUL byte, so it looks binary (or UTF-16);"
    " a script must be a UTF-8 text file"
)


def _byte_position(data: bytes, index: int) -> Tuple[int, int]:
    line_start = data.rfind(b"\n", 0, index) + 1
    line = data.count(b"\n", 0, index) + 1
    col = len(data[line_start:index].decode("utf-8", "replace")) + 1
    return line, col


def _char_position(text: str, index: int) -> Tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


# --- YAML text to nodes -------------------------------------------------------------


class _Frame:
    __slots__ = ("node", "items", "size", "height", "anchor")

    def __init__(self, node: Node, anchor: Optional[str]):
        self.node = node
        self.items: List[Node] = []
        self.size = 1
        self.height = 1
        self.anchor = anchor


class _Composer:
    """Build a yaml node tree from parser events, iteratively, within limits.

    ``bad`` holds the ids of nodes already reported (bad tag, bad alias), so
    the builder skips them without a second message.
    """

    def __init__(self, text: str, problems: _Problems):
        self.text = text
        self.problems = problems
        self.anchors: Dict[str, Tuple[Node, int, int]] = {}
        self.open_anchors: Dict[str, int] = {}
        self.total = 0
        self._resolved: Dict[Tuple[str, Any], str] = {}

    def compose(self) -> Optional[Node]:
        parser = _Loader(self.text)
        try:
            return self._compose(parser)
        except _Fatal:
            return None
        except yaml.MarkedYAMLError as exc:
            self._syntax_error(exc)
            return None
        except yaml.YAMLError as exc:  # a reader error without a mark
            self.problems.add(1, 1, f"cannot read the file as YAML: {exc}; save it as UTF-8 text")
            return None
        finally:
            parser.dispose()

    def _compose(self, parser: Any) -> Optional[Node]:
        event = parser.get_event()
        assert isinstance(event, StreamStartEvent)
        if parser.check_event(StreamEndEvent):
            return None
        parser.get_event()  # DocumentStartEvent
        root = self._node(parser)
        parser.get_event()  # DocumentEndEvent
        if not parser.check_event(StreamEndEvent):
            event = parser.peek_event()
            self.problems.at(
                event.start_mark,
                "a second YAML document starts here; a script file holds one document,"
                " so remove the '---' line and what follows (or put it in its own file)",
            )
        return root

    def _count(self, mark: Any, size: int, alias: Optional[str] = None) -> None:
        self.total += size
        if self.total > MAX_NODES:
            if alias is not None:
                message = (
                    f"alias *{alias} expands to {size} more YAML nodes, past the limit of"
                    f" {MAX_NODES} nodes with aliases expanded; aliases must not be used to"
                    " build huge documents, write the steps out or use 'repeat:'"
                )
            else:
                message = (
                    f"the file has more than {MAX_NODES} YAML nodes;"
                    " split it into smaller scripts"
                )
            self.problems.at(mark, message)
            raise _Fatal

    def _too_deep(self, mark: Any) -> None:
        self.problems.at(
            mark,
            f"the script is nested more than {MAX_DEPTH} levels deep here;"
            " flatten it (fewer nested repeats or lists)",
        )
        raise _Fatal

    def _node(self, parser: Any) -> Node:
        stack: List[_Frame] = []
        get_event = parser.get_event
        resolved = self._resolved
        scalar_tags = _SCALAR_TAGS
        limit = MAX_NODES
        while True:
            event = get_event()
            cls = event.__class__
            if cls is ScalarEvent:
                self.total += 1
                if self.total > limit:
                    self._count(event.start_mark, 0)
                tag = event.tag
                value = event.value
                if tag is None or tag == "!":
                    key = (value, event.implicit)
                    tag = resolved.get(key)
                    if tag is None:
                        tag = resolved[key] = parser.resolve(ScalarNode, value, event.implicit)
                node = ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
                if tag not in scalar_tags:
                    self._bad_tag(node, event.tag or tag)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (node, 1, 0)
                if stack:
                    parent = stack[-1]
                    parent.items.append(node)
                    parent.size += 1
                    continue
                return node
            elif cls is SequenceEndEvent or cls is MappingEndEvent:
                frame = stack.pop()
                node = frame.node
                node.end_mark = event.end_mark
                if isinstance(node, MappingNode):
                    items = frame.items
                    node.value = list(zip(items[0::2], items[1::2]))
                else:
                    node.value = frame.items
                if frame.anchor is not None:
                    self.open_anchors.pop(frame.anchor, None)
                    self.anchors[frame.anchor] = (node, frame.size, frame.height)
                size, height = frame.size, frame.height
            elif cls is AliasEvent:
                name = event.anchor
                entry = self.anchors.get(name)
                if entry is None:
                    if name in self.open_anchors:
                        message = (
                            f"alias *{name} refers to the node that contains it;"
                            " recursive aliases are not allowed"
                        )
                    else:
                        message = (
                            f"alias *{name} has no anchor &{name} before it;"
                            f" define &{name} earlier or write the value out"
                        )
                    self.problems.at(event.start_mark, message)
                    node = ScalarNode(_TAG + "null", "", event.start_mark, event.end_mark)
                    self.bad_node(node)
                    size, height = 1, 0
                    self._count(event.start_mark, 1)
                else:
                    node, size, height = entry
                    if len(stack) + height > MAX_DEPTH:
                        self._too_deep(event.start_mark)
                    self._count(event.start_mark, size, alias=name)
            elif cls is SequenceStartEvent or cls is MappingStartEvent:
                self._count(event.start_mark, 1)
                if len(stack) + 1 > MAX_DEPTH:
                    self._too_deep(event.start_mark)
                is_seq = cls is SequenceStartEvent
                kind = SequenceNode if is_seq else MappingNode
                tag = event.tag
                if tag is None or tag == "!":
                    tag = _SEQ_TAG if is_seq else _MAP_TAG  # what the safe resolver says
                node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
                if tag != (_SEQ_TAG if is_seq else _MAP_TAG):
                    self._bad_tag(node, tag)
                if event.anchor is not None:
                    self.open_anchors[event.anchor] = 1
                    self.anchors.pop(event.anchor, None)
                stack.append(_Frame(node, event.anchor))
                continue
            else:  # pragma: no cover - the parser guarantees node events here
                raise yaml.YAMLError(f"unexpected {type(event).__name__}")
            if not stack:
                return node
            parent = stack[-1]
            parent.items.append(node)
            parent.size += size
            if height + 1 > parent.height:
                parent.height = height + 1

    def bad_node(self, node: Node) -> None:
        node.voiceguide_bad = True  # type: ignore[attr-defined]

    def _bad_tag(self, node: Node, tag: str) -> None:
        shown = tag
        if tag.startswith(_TAG):
            shown = "!!" + tag[len(_TAG):]
        self.problems.at(
            node.start_mark,
            f"the tag {_short(shown, 60)} is not allowed; scripts hold plain text, numbers, lists and"
            " mappings only, so remove the tag",
        )
        self.bad_node(node)

    def _syntax_error(self, exc: yaml.MarkedYAMLError) -> None:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or "invalid YAML").strip()
        where = ""
        if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
            cm = exc.context_mark
            where = f" {exc.context} at line {cm.line + 1}, column {cm.column + 1}"
        hint = self._hint(problem, exc.context or "", mark)
        if mark is None:
            self.problems.add(1, 1, f"YAML syntax error: {problem}{where}; {hint}")
        else:
            self.problems.at(mark, f"YAML syntax error: {problem}{where}; {hint}")

    def _hint(self, problem: str, context: str, mark: Any) -> str:
        char = ""
        if mark is not None:
            lines = self.text.splitlines()
            if 0 <= mark.line < len(lines) and 0 <= mark.column < len(lines[mark.line]):
                char = lines[mark.line][mark.column]
        if char == "\t":
            return "indent with spaces, not tabs"
        if "mapping values are not allowed" in problem:
            return (
                "text containing ': ' must be put in quotes; otherwise check the indentation"
                " of this line"
            )
        if "cannot start any token" in problem:
            return f"text starting with {char!r} must be put in quotes" if char else "put this text in quotes"
        if "end of stream" in problem and "quoted" in context:
            return "close the quote"
        if "expected ',' or ']'" in problem:
            return "close the list with ']' or add the missing ','"
        if "expected ',' or '}'" in problem:
            return "close the mapping with '}' or add the missing ','"
        if "expected '-' indicator" in problem or "block end" in problem:
            return "items of one list must line up and start with '- '; check the indentation"
        if "expected key" in problem:
            return "keys of one mapping must line up; check the indentation"
        if "expected ':'" in problem:
            return "a key needs ': ' after it; otherwise put the text in quotes"
        if "block sequence entries are not allowed" in problem:
            return "start the '- ' item on a new line, indented under its key"
        if "escape" in problem:
            return "inside double quotes write \\\\ for a backslash, or use single quotes"
        if "nesting depth" in problem:
            return f"flatten it; scripts may nest at most {MAX_DEPTH} levels"
        return "check the indentation (spaces only) and put text with special characters in quotes"


# --- nodes to model ---------------------------------------------------------------------


class _Bad(Exception):
    """A value was wrong and has been reported; skip what depends on it."""


#: A step's kind value that failed (its problem is reported); None is a real value.
_BAD = object()


class _Included:
    """What an ``include`` step builds: steps to splice into the enclosing list."""

    def __init__(self, steps: Tuple[Any, ...]):
        self.steps = steps


def _scripts_in(folder: Path) -> List[Path]:
    """Script files in *folder* (for "did you mean"); [] if it cannot be listed."""
    try:
        return [p for p in folder.iterdir() if p.suffix in (".yaml", ".yml")]
    except OSError:
        return []


_CONSTRUCTOR_ERRORS = (ValueError, OverflowError, TypeError, yaml.YAMLError)


def _is_bad(node: Node) -> bool:
    return getattr(node, "voiceguide_bad", False)


class _Builder:
    def __init__(self, problems: _Problems, base_dir: Path, path: Path, stack: Tuple[Path, ...] = ()):
        self.problems = problems
        self.file = problems.file
        self.base_dir = base_dir
        self.path = path
        self.constructor = yaml.constructor.SafeConstructor()
        self.script_rate: Optional[int] = None
        try:
            here = path.resolve()
        except (OSError, RuntimeError):  # pragma: no cover - a name that cannot be resolved
            here = path
        #: Scripts being loaded, outermost first, this one last: a cycle is one seen twice.
        self.stack: Tuple[Path, ...] = stack + (here,)
        #: Where top-level keys' values were written (Script.key_sources).
        self.key_sources: Dict[str, Source] = {}
        #: id(step) -> the include step that brought it in, for limits' locations.
        self.included_at: Dict[int, Source] = {}

    # -- reporting and plain values

    def err(self, node: Node, message: str) -> _Bad:
        self.problems.at(node.start_mark, message)
        return _Bad()

    def source(self, node: Node) -> Source:
        return Source(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def value(self, node: Node) -> Any:
        """The Python value of a scalar node (str, int, float, bool, None, date)."""
        if _is_bad(node):
            raise _Bad()
        if not isinstance(node, ScalarNode):
            return node  # callers type-check collections themselves
        if node.tag == _STR_TAG:
            return node.value
        try:
            return self.constructor.construct_object(node)
        except _CONSTRUCTOR_ERRORS as exc:
            raise self.err(
                node, f"cannot read the value {_short(node.value)!r} ({_short(str(exc), 120)}); write it differently or quote it"
            )

    @staticmethod
    def describe(node: Node, value: Any) -> str:
        if isinstance(node, SequenceNode):
            return "a list"
        if isinstance(node, MappingNode):
            return "a mapping"
        if value is None:
            return "nothing"
        if isinstance(value, bool):
            return f"{node.value!r} (true/false)"
        if isinstance(value, (int, float)):
            return f"the number {_short(node.value)}"
        if isinstance(value, str):
            return f"the text {_short(value)!r}"
        return f"{_short(node.value)!r} ({type(value).__name__})"

    def text(self, node: Node, what: str, *, numbers: bool = True, limit: int = MAX_TEXT_CHARS,
             one_line: bool = False) -> str:
        value = self.value(node)
        if isinstance(value, str):
            text = value.strip()
        elif isinstance(node, ScalarNode) and value is not None and (numbers or not isinstance(value, (int, float))):
            text = node.value.strip()  # as written: yes, 3.5, 2024-01-01
        else:
            raise self.err(node, f"{what}: expected text, got {self.describe(node, value)}")
        if not text:
            raise self.err(node, f"{what} is empty; write some text")
        if len(text) > limit:
            raise self.err(
                node,
                f"{what} is {len(text)} characters long, more than the limit of {limit};"
                " split it into several steps",
            )
        if one_line and "\n" in text:
            raise self.err(node, f"{what} must be one line; shorten it or remove the line breaks")
        return text

    def _parsed(self, node: Node, what: str, parse: Any) -> float:
        value = self.value(node)
        if not isinstance(node, ScalarNode):
            raise self.err(node, f"{what}: expected a single value, got {self.describe(node, value)}")
        try:
            return parse(value)
        except ValueError as exc:
            message = str(exc)
            if isinstance(value, str) and len(value) > 40:
                message = message.replace(repr(value), repr(_short(value)))
            if not message.startswith(what):
                message = f"{what}: {message}"
            raise self.err(node, message)

    def duration(self, node: Node, what: str, *, positive: bool = False,
                 low: Optional[float] = None, high: Optional[float] = None) -> float:
        seconds = self._parsed(node, what, units.parse_duration)
        if positive and seconds <= 0:
            raise self.err(node, f"{what} must be longer than 0 seconds; write e.g. 4s")
        if low is not None and high is not None and not (low <= seconds <= high):
            raise self.err(
                node, f"{what} is {seconds:g} s; use a value between {low:g} s and {high:g} s"
            )
        return seconds

    def level(self, node: Node, what: str) -> float:
        return self._parsed(node, what, units.parse_level)

    def integer(self, node: Node, what: str, low: int, high: int, unit: str = "") -> int:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.err(
                node,
                f"{what}: expected a whole number from {low} to {high}, got {self.describe(node, value)}",
            )
        if not (low <= value <= high):
            raise self.err(node, f"{what} is {value}{unit}; use a whole number from {low} to {high}")
        return value

    def number(self, node: Node, what: str, low: float, high: float = math.inf) -> float:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            expected = f"a number from {low:g} to {high:g}" if high < math.inf else f"a number, {low:g} or more"
            raise self.err(node, f"{what}: expected {expected}, got {self.describe(node, value)}")
        if not (low <= value <= high):
            expected = f"from {low:g} to {high:g}" if high < math.inf else f"{low:g} or more"
            raise self.err(node, f"{what} is {value:g}; use a number {expected}")
        return float(value)

    def mapping(self, node: Node, what: str, example: str) -> List[Tuple[str, Node, Node]]:
        """(key, key node, value node) of a mapping; duplicate keys reported."""
        if _is_bad(node):
            raise _Bad()
        if not isinstance(node, MappingNode):
            value = self.value(node) if isinstance(node, ScalarNode) else node
            raise self.err(node, f"{what}: expected a mapping such as {example}, got {self.describe(node, value)}")
        items: List[Tuple[str, Node, Node]] = []
        first: Dict[str, Node] = {}
        for key_node, value_node in node.value:
            if _is_bad(key_node):
                continue
            if not isinstance(key_node, ScalarNode):
                self.err(key_node, "a key must be a plain name, not a list or mapping; write name: value")
                continue
            if key_node.tag == _TAG + "merge":
                self.err(key_node, "merge keys (<<) are not supported; write the keys out")
                continue
            key = key_node.value
            if key in first:
                where = first[key].start_mark
                self.err(
                    key_node,
                    f'duplicate key "{_short(key)}" (first at line {where.line + 1}, column {where.column + 1});'
                    " remove one of them",
                )
                continue
            first[key] = key_node
            items.append((key, key_node, value_node))
        return items

    def sequence(self, node: Node, what: str) -> List[Node]:
        if _is_bad(node):
            raise _Bad()
        if not isinstance(node, SequenceNode):
            value = self.value(node) if isinstance(node, ScalarNode) else node
            raise self.err(node, f"{what}: expected a list (lines starting with '- '), got {self.describe(node, value)}")
        return node.value

    def unknown(self, key: str, key_node: Node, where: str, known: Sequence[str], hint: str = "") -> None:
        if hint:
            todo = hint
        elif known:
            todo = f"{where} takes: {', '.join(known)}"
        else:
            todo = f"{where} takes no other keys"
        self.err(key_node, f'unknown key "{_short(key)}" in {where}{did_you_mean(key, known)}; {todo}')

    # -- values from the grammar table

    def build(self, spec: g.Value, node: Node) -> Any:
        """The value of *node* as the grammar's *spec* says; reports and raises _Bad.

        This is the one place where a kind of value in :mod:`voiceguide.script.grammar`
        becomes a check: the JSON Schema is generated from the same specs.
        """
        if isinstance(spec, g.Text):
            return self.text(node, spec.what, numbers=spec.numbers, limit=spec.limit,
                             one_line=spec.one_line)
        if isinstance(spec, g.Choice):
            word = self.text(node, spec.what, numbers=False, limit=50)
            if word not in spec.choices:
                raise self.err(
                    node,
                    f'unknown {spec.noun} "{word}"{did_you_mean(word, spec.choices)};'
                    f" use one of {', '.join(spec.choices)}",
                )
            return word
        if isinstance(spec, g.Language):
            return self.language(node)
        if isinstance(spec, g.Duration):
            return self.duration(node, spec.what, positive=spec.positive, low=spec.low, high=spec.high)
        if isinstance(spec, g.Level):
            return self.level(node, spec.what)
        if isinstance(spec, g.Gain):
            return self._parsed(node, spec.what, units.parse_gain)
        if isinstance(spec, g.Pitch):
            return self._parsed(node, spec.what, units.parse_pitch)
        if isinstance(spec, g.Integer):
            return self.integer(node, spec.what, spec.low, spec.high, spec.unit)
        if isinstance(spec, g.Number):
            return self.number(node, spec.what, spec.low, spec.high)
        if isinstance(spec, g.SoundPath):
            return self.sound_path(node)
        if isinstance(spec, g.ScriptRef):
            return self.text(node, spec.what, numbers=False, limit=spec.limit, one_line=True)
        if isinstance(spec, g.Steps):
            return self.steps(node, spec.what)
        if isinstance(spec, g.Layers):
            return self.ambient(node)
        if isinstance(spec, g.Mapping):
            return self.keyed(spec, node)
        raise TypeError(f"no builder for {spec!r}")  # pragma: no cover - a new kind of value

    def keyed(self, spec: g.Mapping, node: Node) -> Dict[str, Any]:
        """A mapping of the keys in *spec*: every bad key reported; missing required ones too."""
        items = self.mapping(node, spec.what, spec.example)
        built: Dict[str, Any] = {}
        failed = False
        names = spec.names()
        for key, key_node, value_node in items:
            if key not in names:
                self.unknown(key, key_node, spec.what, names)
                failed = True
                continue
            try:
                built[key] = self.build(spec.key(key).value, value_node)
                if spec is g.VOICE:
                    self.key_sources["voice." + key] = self.source(value_node)
            except _Bad:
                failed = True
        present = {k for k, _, _ in items}
        missing = [k for k in spec.keys if k.required and k.name not in present]
        if missing:
            needs = ", ".join(k.noun or k.name for k in missing)
            raise self.err(node, f"{spec.what} needs {needs}; write e.g. {spec.example}")
        if failed:
            raise _Bad()
        return built

    # -- the script

    def script(self, root: Node) -> Optional[Script]:
        try:
            items = self.mapping(root, g.TOP.what, g.TOP.example)
        except _Bad:
            return None
        fields = {key: (key_node, value_node) for key, key_node, value_node in items}
        for key, key_node, _ in items:
            if key not in TOP_KEYS:
                self.unknown(key, key_node, g.TOP.what, TOP_KEYS)

        def get(key: str, default: Any) -> Any:
            if key not in fields:
                return default
            value_node = fields[key][1]
            try:
                value = self.build(g.TOP.key(key).value, value_node)
            except _Bad:
                return default
            self.key_sources[key] = self.source(value_node)
            return value

        title = get("title", None)
        if "title" not in fields:
            self.err(root, "the script has no title; add a line such as 'title: Body scan'")
        summary = get("summary", None)
        language = get("language", "en")
        voice = Voice(**get("voice", {}))
        self.script_rate = voice.rate
        ambient = get("ambient", ())
        duck = get("duck", DEFAULT_DUCK_DB)
        steps: Tuple[Any, ...] = ()
        if "steps" not in fields:
            self.err(root, "the script has no steps; add 'steps:' with a list of steps")
        else:
            steps_node = fields["steps"][1]
            steps = get("steps", ())
            if steps:
                self.limits(steps, steps_node)
        if self.problems or title is None:
            return None
        return Script(
            title=title,
            steps=steps,
            path=self.path,
            summary=summary,
            language=language,
            voice=voice,
            ambient=ambient,
            duck_db=duck,
            key_sources=dict(self.key_sources),
        )

    def language(self, node: Node) -> str:
        text = self.text(node, "language", limit=g.TOP.key("language").value.limit)
        if not _LANGUAGE.match(text):
            raise self.err(node, f"language: {text!r} is not a language code; write e.g. en, de or en-GB")
        return text

    # -- ambient

    def ambient(self, node: Node) -> Tuple[Any, ...]:
        layers = []
        for item in self.sequence(node, "ambient"):
            try:
                layers.append(self.layer(item))
            except _Bad:
                pass
        return tuple(layers)

    def layer(self, node: Node) -> Any:
        items = self.mapping(node, "an ambient layer", "{drone: A2, level: -28 dB}")
        kinds = [(k, kn, vn) for k, kn, vn in items if k in LAYER_KINDS]
        option_names = tuple(k.name for k in g.LAYER_OPTIONS)
        for key, key_node, _ in items:
            if key not in LAYER_KINDS and key not in option_names:
                self.unknown(key, key_node, "an ambient layer", LAYER_KINDS + option_names)
        if len(kinds) != 1:
            target = kinds[1][1] if len(kinds) > 1 else node
            found = " and ".join(f'"{k}"' for k, _, _ in kinds) or "none"
            raise self.err(
                target,
                f"an ambient layer needs exactly one of {', '.join(LAYER_KINDS[:-1])} or {LAYER_KINDS[-1]}"
                f" (found {found}); write one layer per '- ' item",
            )
        kind, _, value_node = kinds[0]
        level_db = DEFAULT_LEVELS[kind]
        level_bad = False
        for key, _, level_node in items:
            if key == "level":
                try:
                    level_db = self.build(g.LAYER_OPTIONS[0].value, level_node)
                except _Bad:
                    level_bad = True
        source = self.source(node)
        spec = g.LAYER_KINDS[kind].value
        if kind == "drone":
            value = self.value(value_node)
            hz = self.build(spec, value_node)
            note = value.strip() if isinstance(value, str) else None
            layer: Any = Drone(hz=hz, level_db=level_db, source=source, note=note)
        elif kind == "noise":
            layer = Noise(color=self.build(spec, value_node), level_db=level_db, source=source)
        else:
            layer = SoundLoop(path=self.build(spec, value_node), level_db=level_db, source=source)
        if level_bad:
            raise _Bad()
        return layer

    def sound_path(self, node: Node) -> Path:
        """Absolute path of a ``sound:`` file: the script's folder, then built-ins.

        Absolute paths and paths that leave the script's folder (after ``..``
        and symlinks are resolved) are refused, unless they land inside the
        built-in sounds folder.
        """
        written = self.text(node, "sound", numbers=False, limit=1000, one_line=True)
        shown = _short(written, 80)
        try:
            builtin_root = _builtin_sounds_dir().resolve()
            given = Path(written).expanduser() if written.startswith("~") else Path(written)
            if given.is_absolute():
                resolved = given.resolve()
                if not _inside(resolved, builtin_root):
                    raise self.err(
                        node,
                        f"sound path {shown} is absolute; write a path relative to the"
                        " script's folder, or the name of a built-in sound",
                    )
                candidates = [resolved]
            else:
                base_root = self.base_dir.resolve()
                local = (base_root / given).resolve()
                if not (_inside(local, base_root) or _inside(local, builtin_root)):
                    raise self.err(
                        node,
                        f"sound path {shown} leaves the script's folder; keep sound files"
                        " next to the script or in a folder below it",
                    )
                candidates = [local]
                shipped = (builtin_root / given).resolve()
                if _inside(shipped, builtin_root):
                    candidates.append(shipped)
            for candidate in candidates:
                if candidate.is_file():
                    return candidate
                if candidate.is_dir():
                    raise self.err(node, f"sound {shown} is a folder, not a sound file")
            names = sorted(
                p.name for p in builtin_root.iterdir() if p.suffix.lower() in (".wav", ".flac", ".ogg")
            ) if builtin_root.is_dir() else []
        except (OSError, RuntimeError, ValueError) as exc:
            raise self.err(node, f"cannot use the sound path {shown!r} ({exc}); check the path")
        raise self.err(
            node,
            f"sound file not found: {shown}{did_you_mean(given.name, names)}; looked in the"
            " script's folder and the built-in sounds",
        )

    # -- steps

    def steps(self, node: Node, what: str) -> Tuple[Any, ...]:
        items = self.sequence(node, what)
        if not items:
            raise self.err(node, f"{what} is empty; add at least one step such as '- say: Hello'")
        out: List[Any] = []
        for item in items:
            try:
                step = self.step(item)
            except _Bad:
                continue
            if isinstance(step, _Included):
                out.extend(step.steps)
            else:
                out.append(step)
        return tuple(out)

    def step(self, node: Node) -> Any:
        if _is_bad(node):
            raise _Bad()
        if isinstance(node, ScalarNode):
            value = self.value(node)
            if value is None:
                raise self.err(node, f"empty step; write text to say, or a step such as 'pause: 4s' ({_KINDS_TEXT})")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                raise self.err(
                    node,
                    f"a step cannot be just {self.describe(node, value)}; write 'pause: {node.value}'"
                    f" to wait, or put it in quotes to say it",
                )
            return Say(text=self.build(g.STEPS["say"].value, node), source=self.source(node),
                       voice=Voice())
        if isinstance(node, SequenceNode):
            raise self.err(node, "a step cannot be a list; remove the extra '- ' or '['")
        items = self.mapping(node, "a step", "{say: Hello}")
        present = [k for k, _, _ in items if k in STEP_KINDS]
        if len(present) > 1:
            owners = [k for k in present if k != "pause" and "pause" in STEP_OPTIONS[k]]
            if owners and "pause" in present:
                present.remove("pause")
        if len(present) != 1:
            if present:
                second = next(kn for k, kn, _ in items if k == present[1])
                raise self.err(
                    second,
                    f'a step has exactly one kind, but this one has "{present[0]}" and "{present[1]}";'
                    f" split it into separate '- ' steps (kinds: {_KINDS_TEXT})",
                )
            reported = False
            options = set(g.all_option_names())
            for key, key_node, _ in items:
                if key not in options:
                    self.err(
                        key_node,
                        f'unknown step kind "{_short(key)}"{did_you_mean(key, STEP_KINDS)};'
                        f" a step is one of: {_KINDS_TEXT}",
                    )
                    reported = True
            if not reported and items:
                keys = ", ".join(k for k, _, _ in items)
                self.err(node, f"this step has no kind (only {keys}); a step needs exactly one of: {_KINDS_TEXT}")
            elif not node.value:
                self.err(node, f"empty step {{}}; a step needs exactly one of: {_KINDS_TEXT}")
            raise _Bad()
        kind = present[0]
        spec = g.STEPS[kind]
        allowed = spec.option_names()
        kind_node: Node = node
        options: Dict[str, Node] = {}
        failed = False
        for key, key_node, value_node in items:
            if key == kind:
                kind_node = value_node
            elif key in allowed:
                options[key] = value_node
            else:
                hint = ""
                if isinstance(spec.value, g.Mapping) and key in spec.value.names():
                    hint = f"indent {key} under {kind}: (two more spaces than {kind})"
                self.unknown(key, key_node, f"a {kind} step", allowed, hint)
                failed = True
        try:
            value: Any = self.build(spec.value, kind_node)
        except _Bad:
            value = _BAD
        if kind == "repeat" and "steps" not in options:
            raise self.err(node, "repeat needs 'steps:' with the list of steps to repeat, indented under it")
        built = self._options(spec, options)
        if value is _BAD or failed:
            raise _Bad()
        return getattr(self, "step_" + kind)(node, kind_node, value, built)

    def _options(self, spec: g.StepKind, options: Dict[str, Node]) -> Dict[str, Any]:
        """Build every option from the grammar, reporting each bad one; raise _Bad if any failed."""
        out: Dict[str, Any] = {}
        failed = False
        for key, value_node in options.items():
            try:
                out[key] = self.build(spec.option(key).value, value_node)
            except _Bad:
                failed = True
        if failed:
            raise _Bad()
        return out

    def step_say(self, node: Node, value_node: Node, text: str, opts: Dict[str, Any]) -> Say:
        voice = Voice(rate=opts.get("rate"), volume=opts.get("volume"), name=opts.get("voice"))
        return Say(text=text, source=self.source(node), pause=opts.get("pause", 0.0),
                   stretch=opts.get("stretch", 1.0), voice=voice)

    def step_pause(self, node: Node, value_node: Node, seconds: float, opts: Dict[str, Any]) -> Pause:
        return Pause(seconds=seconds, source=self.source(node), stretch=opts.get("stretch", 1.0))

    def step_bell(self, node: Node, value_node: Node, kind: str, opts: Dict[str, Any]) -> Bell:
        return Bell(kind=kind, source=self.source(node), level_db=opts.get("level", DEFAULT_BELL_DB))

    def step_section(self, node: Node, value_node: Node, name: str, opts: Dict[str, Any]) -> Section:
        return Section(name=name, source=self.source(node))

    def step_repeat(self, node: Node, value_node: Node, times: int, opts: Dict[str, Any]) -> Repeat:
        return Repeat(times=times, steps=opts["steps"], source=self.source(node))

    def step_count(self, node: Node, value_node: Node, to: int, opts: Dict[str, Any]) -> Count:
        return Count(to=to, source=self.source(node), pause=opts.get("pause", 0.0),
                     stretch=opts.get("stretch", 1.0), interval=opts.get("interval", 1.0))

    def step_breathe(self, node: Node, value_node: Node, built: Dict[str, Any], opts: Dict[str, Any]) -> Breathe:
        return Breathe(inhale=built["inhale"], exhale=built["exhale"], cycles=built["cycles"],
                       source=self.source(node), hold=built.get("hold", 0.0),
                       hold_out=built.get("hold_out", 0.0))

    def step_walk(self, node: Node, value_node: Node, built: Dict[str, Any], opts: Dict[str, Any]) -> Walk:
        return Walk(duration=built["duration"], cadence=built.get("cadence", DEFAULT_CADENCE),
                    source=self.source(node))

    # -- include

    def step_include(self, node: Node, value_node: Node, written: str, opts: Dict[str, Any]) -> "_Included":
        """The steps of another script, loaded now and inlined where the include stands.

        Why at load time: the timeline, preview, lint and the limits then see
        ordinary steps, each with the Source of the file it was written in.
        The included script's title, voice and ambient are not used: the
        including script's own apply to every step.
        """
        shown = _short(written, 80)
        if len(self.stack) >= MAX_INCLUDE_DEPTH:
            raise self.err(value_node, f"include {shown}: includes nest more than {MAX_INCLUDE_DEPTH}"
                                       " deep; include fewer scripts inside each other")
        target = self.include_target(value_node, written)
        try:
            resolved = target.resolve()
        except (OSError, RuntimeError) as exc:
            raise self.err(value_node, f"cannot include {shown} ({exc}); check the path")
        if resolved in self.stack:
            chain = " -> ".join(p.name for p in self.stack[self.stack.index(resolved):] + (resolved,))
            raise self.err(value_node, f"include {shown} makes a cycle ({chain}); a script cannot"
                                       " include itself, directly or through another script")
        try:
            included = _load_file(target, self.stack)
        except ScriptError as exc:
            first = exc.problems[0]
            more = len(exc.problems) - 1
            extra = f" (and {more} more)" if more else ""
            raise self.err(value_node, f"included script {shown} has a problem{extra}: {first}")
        for step in included.steps:
            self.included_at[id(step)] = self.source(node)
        return _Included(included.steps)

    def include_target(self, node: Node, written: str) -> Path:
        """The file an ``include:`` names: a relative path, or an id.

        A path (it has a slash or ends in .yaml/.yml) is relative to the
        including script's folder and may not leave it, like sound paths. An
        id is looked up in the including script's folder, then the user's
        scripts, then the built-ins (see :mod:`voiceguide.script.catalog`).
        """
        from . import catalog

        shown = _short(written, 80)
        if catalog.looks_like_path(written):
            given = Path(written)
            if given.is_absolute() or written.startswith("~"):
                raise self.err(node, f"include {shown} is an absolute path; write a path relative"
                                     " to the script's folder, or an exercise id")
            if given.suffix not in catalog.SUFFIXES:
                raise self.err(node, f"include {shown}: a script path ends in .yaml or .yml")
            try:
                base = self.base_dir.resolve()
                target = (base / given).resolve()
            except (OSError, RuntimeError) as exc:
                raise self.err(node, f"cannot include {shown} ({exc}); check the path")
            if not _inside(target, base):
                raise self.err(node, f"include {shown} leaves the script's folder; keep included"
                                     " scripts next to it or in a folder below it, or use an id")
            if not target.is_file():
                names = [p.name for p in _scripts_in(target.parent)]
                raise self.err(node, f"include {shown}: no such file{did_you_mean(given.name, names)}")
            return self.base_dir / given
        folders = [self.base_dir, catalog.user_dir(), catalog.builtin_dir()]
        for folder in folders:
            for suffix in catalog.SUFFIXES:
                candidate = folder / f"{written}{suffix}"
                if candidate.is_file():
                    return candidate
        ids = sorted({p.stem for folder in folders for p in _scripts_in(folder)})
        raise self.err(node, f'include: no exercise "{shown}"{did_you_mean(written, ids)}; looked in'
                             " the script's folder, your scripts and the built-ins (`voiceguide list`)")

    # -- whole-script limits

    def limits(self, steps: Tuple[Any, ...], steps_node: Node) -> None:
        """Step count (repeats expanded) and a lower bound of the length."""
        count = 0
        seconds = 0.0
        count_done = seconds_done = False
        for step in steps:
            count += _expanded_steps(step)
            seconds += self.seconds(step)
            where = self.included_at.get(id(step), step.source)
            if count > MAX_STEPS and not count_done:
                count_done = True
                self.problems.add(
                    where.line,
                    where.col,
                    f"the script passes {MAX_STEPS} steps here once repeats are expanded;"
                    " lower the repeat counts or split the script",
                )
            if seconds > MAX_SESSION_SECONDS and not seconds_done:
                seconds_done = True
                self.problems.add(
                    where.line,
                    where.col,
                    f"the session passes the limit of {units.format_duration(MAX_SESSION_SECONDS)}"
                    " here (it lasts at least"
                    f" {units.format_duration(_total(self, steps))}); shorten pauses or lower repeat counts",
                )

    def seconds(self, step: Any) -> float:
        """A lower bound of how long *step* lasts."""
        if isinstance(step, Say):
            rate = step.voice.rate or self.script_rate or DEFAULT_RATE
            return step.pause + len(step.text.split()) / rate * 60.0
        if isinstance(step, Pause):
            return step.seconds
        if isinstance(step, Bell):
            return BELL_SECONDS.get(step.kind, 0.0)
        if isinstance(step, Count):
            return step.interval * step.to + step.pause
        if isinstance(step, Breathe):
            return step.cycles * step.cycle_seconds
        if isinstance(step, Walk):
            return step.duration
        if isinstance(step, Repeat):
            return step.times * sum(self.seconds(s) for s in step.steps)
        return 0.0


def _total(builder: _Builder, steps: Tuple[Any, ...]) -> float:
    total = sum(builder.seconds(s) for s in steps)
    return min(total, 1e12)  # format_duration needs a finite number


def _expanded_steps(step: Any) -> int:
    if isinstance(step, Repeat):
        return step.times * sum(_expanded_steps(s) for s in step.steps)
    return 1


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
