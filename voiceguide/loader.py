"""Load exercise scripts (format v1) into the immutable :mod:`voiceguide.model`.

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

from . import units
from .errors import Problem, ScriptError, did_you_mean
from .model import (
    BELL_KINDS,
    BELL_SECONDS,
    DEFAULT_DUCK_DB,
    DEFAULT_RATE,
    MAX_COUNT,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    MAX_RATE,
    MAX_SESSION_SECONDS,
    MAX_STEPS,
    MAX_TEXT_CHARS,
    MIN_RATE,
    NOISE_COLORS,
    STEP_KINDS,
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

MAX_REPEAT = 1000
MAX_CYCLES = 200
MIN_INTERVAL, MAX_INTERVAL = 0.5, 5.0
MIN_CADENCE, MAX_CADENCE = 10.0, 180.0
DEFAULT_CADENCE = 40.0
DEFAULT_LEVELS = {"drone": -30.0, "noise": -36.0, "sound": -30.0}
DEFAULT_BELL_DB = -12.0

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_STR_TAG = _TAG + "str"
_SEQ_TAG = _TAG + "seq"
_MAP_TAG = _TAG + "map"

#: Characters YAML does not allow in a stream: PyYAML's own, already compiled.
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")

TOP_KEYS = ("title", "summary", "language", "voice", "ambient", "duck", "steps")
VOICE_KEYS = ("rate", "volume", "name")
LAYER_KINDS = ("drone", "noise", "sound")
BREATHE_KEYS = ("inhale", "exhale", "hold", "hold_out", "cycles")
WALK_KEYS = ("duration", "cadence")

#: The options each step kind takes besides its kind key.
STEP_OPTIONS: Dict[str, Tuple[str, ...]] = {
    "say": ("pause", "stretch", "rate", "volume", "voice"),
    "pause": ("stretch",),
    "bell": ("level",),
    "section": (),
    "repeat": ("steps",),
    "count": ("pause", "stretch", "interval"),
    "breathe": (),
    "walk": (),
}

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
    return load_text(data, name, p.parent)


def load_text(text: Union[str, bytes], filename: str, base_dir: Optional[Path] = None) -> Script:
    """Validate a script held in memory; ``filename`` is used in problems.

    ``base_dir`` is where relative ``sound:`` paths are looked up first; it
    defaults to the folder of ``filename``.
    """
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
            script = _Builder(problems, Path(base_dir), path).script(root)
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


_CONSTRUCTOR_ERRORS = (ValueError, OverflowError, TypeError, yaml.YAMLError)


def _is_bad(node: Node) -> bool:
    return getattr(node, "voiceguide_bad", False)


class _Builder:
    def __init__(self, problems: _Problems, base_dir: Path, path: Path):
        self.problems = problems
        self.file = problems.file
        self.base_dir = base_dir
        self.path = path
        self.constructor = yaml.constructor.SafeConstructor()
        self.script_rate: Optional[int] = None

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

    # -- the script

    def script(self, root: Node) -> Optional[Script]:
        example = "title: ... and steps: ..."
        try:
            items = self.mapping(root, "the script", example)
        except _Bad:
            return None
        fields = {key: (key_node, value_node) for key, key_node, value_node in items}
        for key, key_node, _ in items:
            if key not in TOP_KEYS:
                self.unknown(key, key_node, "the script", TOP_KEYS)

        def get(key: str, build: Any, default: Any) -> Any:
            if key not in fields:
                return default
            try:
                return build(fields[key][1])
            except _Bad:
                return default

        title = get("title", lambda n: self.text(n, "title", limit=200, one_line=True), None)
        if "title" not in fields:
            self.err(root, "the script has no title; add a line such as 'title: Body scan'")
        summary = get("summary", lambda n: self.text(n, "summary", limit=500, one_line=True), None)
        language = get("language", self.language, "en")
        voice = get("voice", self.script_voice, Voice())
        self.script_rate = voice.rate
        ambient = get("ambient", self.ambient, ())
        duck = get("duck", lambda n: self._parsed(n, "duck", units.parse_gain), DEFAULT_DUCK_DB)
        steps: Tuple[Any, ...] = ()
        if "steps" not in fields:
            self.err(root, "the script has no steps; add 'steps:' with a list of steps")
        else:
            steps_node = fields["steps"][1]
            steps = get("steps", lambda n: self.steps(n, "steps"), ())
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
        )

    def language(self, node: Node) -> str:
        text = self.text(node, "language", limit=35)
        if not _LANGUAGE.match(text):
            raise self.err(node, f"language: {text!r} is not a language code; write e.g. en, de or en-GB")
        return text

    def rate(self, node: Node) -> int:
        return self.integer(node, "rate", MIN_RATE, MAX_RATE, " words per minute")

    def volume(self, node: Node) -> float:
        return self.number(node, "volume", 0.0, 1.0)

    def script_voice(self, node: Node) -> Voice:
        values: Dict[str, Any] = {}
        for key, key_node, value_node in self.mapping(node, "voice", "{rate: 140, volume: 0.9}"):
            try:
                if key == "rate":
                    values["rate"] = self.rate(value_node)
                elif key == "volume":
                    values["volume"] = self.volume(value_node)
                elif key == "name":
                    values["name"] = self.text(value_node, "voice name", limit=200, one_line=True)
                else:
                    self.unknown(key, key_node, "voice", VOICE_KEYS)
            except _Bad:
                pass
        return Voice(**values)

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
        for key, key_node, _ in items:
            if key not in LAYER_KINDS and key != "level":
                self.unknown(key, key_node, "an ambient layer", LAYER_KINDS + ("level",))
        if len(kinds) != 1:
            target = kinds[1][1] if len(kinds) > 1 else node
            found = " and ".join(f'"{k}"' for k, _, _ in kinds) or "none"
            raise self.err(
                target,
                f"an ambient layer needs exactly one of drone, noise or sound (found {found});"
                " write one layer per '- ' item",
            )
        kind, _, value_node = kinds[0]
        level_db = DEFAULT_LEVELS[kind]
        level_bad = False
        for key, _, level_node in items:
            if key == "level":
                try:
                    level_db = self.level(level_node, "level")
                except _Bad:
                    level_bad = True
        source = self.source(node)
        if kind == "drone":
            value = self.value(value_node)
            hz = self._parsed(value_node, "drone", units.parse_pitch)
            note = value.strip() if isinstance(value, str) else None
            layer: Any = Drone(hz=hz, level_db=level_db, source=source, note=note)
        elif kind == "noise":
            color = self.text(value_node, "noise", numbers=False, limit=50)
            if color not in NOISE_COLORS:
                raise self.err(
                    value_node,
                    f'unknown noise colour "{color}"{did_you_mean(color, NOISE_COLORS)};'
                    f" use one of {', '.join(NOISE_COLORS)}",
                )
            layer = Noise(color=color, level_db=level_db, source=source)
        else:
            layer = SoundLoop(path=self.sound_path(value_node), level_db=level_db, source=source)
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
        out = []
        for item in items:
            try:
                out.append(self.step(item))
            except _Bad:
                pass
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
            return Say(text=self.text(node, "say text"), source=self.source(node),
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
            options = {o for opts in STEP_OPTIONS.values() for o in opts}
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
        allowed = STEP_OPTIONS[kind]
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
                if kind in ("breathe", "walk") and key in (BREATHE_KEYS if kind == "breathe" else WALK_KEYS):
                    hint = f"indent {key} under {kind}: (two more spaces than {kind})"
                self.unknown(key, key_node, f"a {kind} step", allowed, hint)
                failed = True
        step = getattr(self, "step_" + kind)(node, kind_node, options)
        if failed:
            raise _Bad()
        return step

    def _options(self, options: Dict[str, Node], builders: Dict[str, Any]) -> Dict[str, Any]:
        """Build every option, reporting each bad one; raise _Bad if any failed."""
        out: Dict[str, Any] = {}
        failed = False
        for key, value_node in options.items():
            try:
                out[key] = builders[key](value_node)
            except _Bad:
                failed = True
        if failed:
            raise _Bad()
        return out

    def _stretch(self, n: Node) -> float:
        return self.number(n, "stretch", 0.0)

    def step_say(self, node: Node, value: Node, options: Dict[str, Node]) -> Say:
        try:
            text: Optional[str] = self.text(value, "say text")
        except _Bad:
            text = None
        opts = self._options(options, {
            "pause": lambda n: self.duration(n, "pause"),
            "stretch": self._stretch,
            "rate": self.rate,
            "volume": self.volume,
            "voice": lambda n: self.text(n, "voice", numbers=False, limit=200, one_line=True),
        })
        if text is None:
            raise _Bad()
        voice = Voice(rate=opts.get("rate"), volume=opts.get("volume"), name=opts.get("voice"))
        return Say(text=text, source=self.source(node), pause=opts.get("pause", 0.0),
                   stretch=opts.get("stretch", 1.0), voice=voice)

    def step_pause(self, node: Node, value: Node, options: Dict[str, Node]) -> Pause:
        try:
            seconds: Optional[float] = self.duration(value, "pause")
        except _Bad:
            seconds = None
        opts = self._options(options, {"stretch": self._stretch})
        if seconds is None:
            raise _Bad()
        return Pause(seconds=seconds, source=self.source(node), stretch=opts.get("stretch", 1.0))

    def step_bell(self, node: Node, value: Node, options: Dict[str, Node]) -> Bell:
        kind: Optional[str] = None
        try:
            kind = self.text(value, "bell", numbers=False, limit=50)
            if kind not in BELL_KINDS:
                self.err(
                    value,
                    f'unknown bell "{kind}"{did_you_mean(kind, BELL_KINDS)}; use one of {", ".join(BELL_KINDS)}',
                )
                kind = None
        except _Bad:
            pass
        opts = self._options(options, {"level": lambda n: self.level(n, "level")})
        if kind is None:
            raise _Bad()
        return Bell(kind=kind, source=self.source(node), level_db=opts.get("level", DEFAULT_BELL_DB))

    def step_section(self, node: Node, value: Node, options: Dict[str, Node]) -> Section:
        return Section(name=self.text(value, "section name", limit=200, one_line=True), source=self.source(node))

    def step_repeat(self, node: Node, value: Node, options: Dict[str, Node]) -> Repeat:
        try:
            times: Optional[int] = self.integer(value, "repeat", 1, MAX_REPEAT, " times")
        except _Bad:
            times = None
        if "steps" not in options:
            raise self.err(node, "repeat needs 'steps:' with the list of steps to repeat, indented under it")
        steps = self.steps(options["steps"], "repeat steps")
        if times is None:
            raise _Bad()
        return Repeat(times=times, steps=steps, source=self.source(node))

    def step_count(self, node: Node, value: Node, options: Dict[str, Node]) -> Count:
        try:
            to: Optional[int] = self.integer(value, "count", 1, MAX_COUNT)
        except _Bad:
            to = None
        opts = self._options(options, {
            "pause": lambda n: self.duration(n, "pause"),
            "stretch": self._stretch,
            "interval": lambda n: self.duration(n, "interval", low=MIN_INTERVAL, high=MAX_INTERVAL),
        })
        if to is None:
            raise _Bad()
        return Count(to=to, source=self.source(node), pause=opts.get("pause", 0.0),
                     stretch=opts.get("stretch", 1.0), interval=opts.get("interval", 1.0))

    def step_breathe(self, node: Node, value: Node, options: Dict[str, Node]) -> Breathe:
        example = "{inhale: 4s, exhale: 6s, cycles: 5}"
        items = self.mapping(value, "breathe", example)
        built: Dict[str, Any] = {}
        failed = False
        for key, key_node, value_node in items:
            try:
                if key in ("inhale", "exhale"):
                    built[key] = self.duration(value_node, key, positive=True)
                elif key in ("hold", "hold_out"):
                    built[key] = self.duration(value_node, key)
                elif key == "cycles":
                    built[key] = self.integer(value_node, "cycles", 1, MAX_CYCLES)
                else:
                    self.unknown(key, key_node, "breathe", BREATHE_KEYS)
                    failed = True
            except _Bad:
                failed = True
        present = {k for k, _, _ in items}
        missing = [k for k in ("inhale", "exhale", "cycles") if k not in present]
        if missing:
            raise self.err(value, f"breathe needs {', '.join(missing)}; write e.g. {example}")
        if failed:
            raise _Bad()
        return Breathe(inhale=built["inhale"], exhale=built["exhale"], cycles=built["cycles"],
                       source=self.source(node), hold=built.get("hold", 0.0),
                       hold_out=built.get("hold_out", 0.0))

    def step_walk(self, node: Node, value: Node, options: Dict[str, Node]) -> Walk:
        example = "{duration: 2m, cadence: 40}"
        items = self.mapping(value, "walk", example)
        built: Dict[str, Any] = {}
        failed = False
        for key, key_node, value_node in items:
            try:
                if key == "duration":
                    built[key] = self.duration(value_node, "duration", positive=True)
                elif key == "cadence":
                    built[key] = self.number(value_node, "cadence (steps per minute)", MIN_CADENCE, MAX_CADENCE)
                else:
                    self.unknown(key, key_node, "walk", WALK_KEYS)
                    failed = True
            except _Bad:
                failed = True
        if "duration" not in {k for k, _, _ in items}:
            raise self.err(value, f"walk needs a duration; write e.g. {example}")
        if failed:
            raise _Bad()
        return Walk(duration=built["duration"], cadence=built.get("cadence", DEFAULT_CADENCE),
                    source=self.source(node))

    # -- whole-script limits

    def limits(self, steps: Tuple[Any, ...], steps_node: Node) -> None:
        """Step count (repeats expanded) and a lower bound of the length."""
        count = 0
        seconds = 0.0
        count_done = seconds_done = False
        for step in steps:
            count += _expanded_steps(step)
            seconds += self.seconds(step)
            where = step.source
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
