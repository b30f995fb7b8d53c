"""Reading plain values off YAML nodes, as the grammar table says, every problem located.

:class:`Reader` turns one node into one Python value -- text, a duration, a
level, a whole number, a mapping of known keys -- or reports a problem at the
node and raises :class:`~voiceguide.script.problems.Bad`. Which check applies
is chosen by the kind of value in :mod:`voiceguide.script.grammar`, through
the table :attr:`Reader.readers` (kind of value -> method): the JSON Schema is
generated from the same kinds, so the editor and ``validate`` agree.

What needs more than one node (steps, ambient layers, file paths) is read by
the script builder (:mod:`voiceguide.script.build`), which extends the table.

Traps:

* Only scalars are converted, and only through PyYAML's ``SafeConstructor``
  on the plain YAML tags the composer let through; a timestamp or an integer
  too large for a float raises inside the constructor and becomes a problem.
* A text value accepts a number or true/false *as written* (``say: 3.10``
  speaks "3.10", not "3.1") unless the kind says ``numbers=False``.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, ClassVar, Dict, List, Optional, Sequence, Tuple

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from voiceguide.errors import did_you_mean
from voiceguide.script import grammar as g
from voiceguide.script import units
from voiceguide.script.compose import MERGE_TAG, STR_TAG, is_bad
from voiceguide.script.controls import strip_controls
from voiceguide.script.model import MAX_TEXT_CHARS, Source
from voiceguide.script.problems import Bad, Problems, short

_LANGUAGE = re.compile(g.LANGUAGE_PATTERN)
_CONSTRUCTOR_ERRORS = (ValueError, OverflowError, TypeError, yaml.YAMLError)


def found(node: Node, value: Any) -> str:
    """What the author wrote, for "expected X, got ...": ``a list``, ``the number 3``."""
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, MappingNode):
        return "a mapping"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{node.value!r} (true/false)"
    if isinstance(value, (int, float)):
        return f"the number {short(node.value)}"
    if isinstance(value, str):
        return f"the text {short(value)!r}"
    return f"{short(node.value)!r} ({type(value).__name__})"


class Reader:
    """Reads values from the nodes of one file, reporting into its :class:`Problems`."""

    #: kind of value (a grammar class) -> the method that reads it; extended by subclasses.
    readers: ClassVar[Dict[type, Callable[..., Any]]] = {}

    def __init__(self, problems: Problems):
        self.problems = problems
        self.file = problems.file
        self.constructor = yaml.constructor.SafeConstructor()

    # -- reporting

    def err(self, node: Node, message: str) -> Bad:
        """Report *message* at *node*; returns the :class:`Bad` to raise."""
        self.problems.at(node.start_mark, message)
        return Bad()

    def source(self, node: Node) -> Source:
        return Source(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def unknown(self, key: str, key_node: Node, where: str, known: Sequence[str], hint: str = "") -> None:
        """Report an unknown key, with "did you mean" and what *where* takes."""
        if hint:
            todo = hint
        elif known:
            todo = f"{where} takes: {', '.join(known)}"
        else:
            todo = f"{where} takes no other keys"
        self.err(key_node, f'unknown key "{short(key)}" in {where}{did_you_mean(key, known)}; {todo}')

    # -- the grammar table

    def build(self, spec: g.ValueSpec, node: Node) -> Any:
        """The value of *node* as the grammar's *spec* says; reports and raises Bad."""
        read = self.readers.get(type(spec))
        if read is None:  # pragma: no cover - a new kind of value without a reader
            raise TypeError(f"no reader for {spec!r}")
        return read(self, spec, node)

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
                self.key_read(spec, key, value_node)
            except Bad:
                failed = True
        present = {k for k, _, _ in items}
        missing = [k for k in spec.keys if k.required and k.name not in present]
        if missing:
            needs = ", ".join(k.noun or k.name for k in missing)
            raise self.err(node, f"{spec.what} needs {needs}; write e.g. {spec.example}")
        if failed:
            raise Bad()
        return built

    def key_read(self, spec: g.Mapping, key: str, value_node: Node) -> None:
        """Called after each key of a mapping is read well; a hook for the builder."""

    # -- scalars

    def value(self, node: Node) -> Any:
        """The Python value of a scalar node (str, int, float, bool, None, date)."""
        if is_bad(node):
            raise Bad()
        if not isinstance(node, ScalarNode):
            return node  # callers type-check collections themselves
        if node.tag == STR_TAG:
            return node.value
        try:
            return self.constructor.construct_object(node)
        except _CONSTRUCTOR_ERRORS as exc:
            raise self.err(
                node, f"cannot read the value {short(node.value)!r} ({short(str(exc), 120)});"
                      " write it differently or quote it"
            ) from exc

    def text(self, node: Node, what: str, *, numbers: bool = True, limit: int = MAX_TEXT_CHARS,
             one_line: bool = False) -> str:
        """Stripped, non-empty text of at most *limit* characters."""
        value = self.value(node)
        if isinstance(value, str):
            text = self._clean(node, what, value).strip()
        elif isinstance(node, ScalarNode) and value is not None and (numbers or not isinstance(value, (int, float))):
            text = node.value.strip()  # as written: yes, 3.5, 2024-01-01
        else:
            raise self.err(node, f"{what}: expected text, got {found(node, value)}")
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

    def _clean(self, node: Node, what: str, text: str) -> str:
        """*text* without control characters and escape sequences; a warning names what went."""
        clean, removed = strip_controls(text)
        if removed:
            self.problems.warn(node.start_mark, f"{what} contains {', '.join(removed)} (control characters"
                                                " or escape sequences that a terminal would act on);"
                                                " they are left out: delete them from the script")
        return clean

    def parsed(self, node: Node, what: str, parse: Callable[[Any], float]) -> float:
        """A single value through one of the :mod:`~voiceguide.script.units` parsers."""
        value = self.value(node)
        if not isinstance(node, ScalarNode):
            raise self.err(node, f"{what}: expected a single value, got {found(node, value)}")
        try:
            return parse(value)
        except ValueError as exc:
            message = str(exc)
            if isinstance(value, str) and len(value) > 40:
                message = message.replace(repr(value), repr(short(value)))
            if not message.startswith(what):
                message = f"{what}: {message}"
            raise self.err(node, message) from exc

    def duration(self, node: Node, what: str, *, positive: bool = False,
                 low: Optional[float] = None, high: Optional[float] = None) -> float:
        seconds = self.parsed(node, what, units.parse_duration)
        if positive and seconds <= 0:
            raise self.err(node, f"{what} must be longer than 0 seconds; write e.g. 4s")
        if low is not None and high is not None and not (low <= seconds <= high):
            raise self.err(
                node, f"{what} is {seconds:g} s; use a value between {low:g} s and {high:g} s"
            )
        return seconds

    def integer(self, node: Node, what: str, low: int, high: int, unit: str = "") -> int:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.err(
                node,
                f"{what}: expected a whole number from {low} to {high}, got {found(node, value)}",
            )
        if not (low <= value <= high):
            raise self.err(node, f"{what} is {value}{unit}; use a whole number from {low} to {high}")
        return value

    def number(self, node: Node, what: str, low: float, high: float = math.inf) -> float:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            expected = f"a number from {low:g} to {high:g}" if high < math.inf else f"a number, {low:g} or more"
            raise self.err(node, f"{what}: expected {expected}, got {found(node, value)}")
        if not (low <= value <= high):
            expected = f"from {low:g} to {high:g}" if high < math.inf else f"{low:g} or more"
            raise self.err(node, f"{what} is {value:g}; use a number {expected}")
        return float(value)

    # -- collections

    def mapping(self, node: Node, what: str, example: str) -> List[Tuple[str, Node, Node]]:
        """(key, key node, value node) of a mapping; duplicate keys reported."""
        if is_bad(node):
            raise Bad()
        if not isinstance(node, MappingNode):
            value = self.value(node) if isinstance(node, ScalarNode) else node
            raise self.err(node, f"{what}: expected a mapping such as {example}, got {found(node, value)}")
        items: List[Tuple[str, Node, Node]] = []
        first: Dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, first)
            if key is not None:
                first[key] = key_node
                items.append((key, key_node, value_node))
        return items

    def _key(self, key_node: Node, first: Dict[str, Node]) -> Optional[str]:
        """The name of a mapping key, or None after reporting why it cannot be one."""
        if is_bad(key_node):
            return None
        if not isinstance(key_node, ScalarNode):
            self.err(key_node, "a key must be a plain name, not a list or mapping; write name: value")
            return None
        if key_node.tag == MERGE_TAG:
            self.err(key_node, "merge keys (<<) are not supported; write the keys out")
            return None
        key = key_node.value
        if key in first:
            where = first[key].start_mark
            self.err(
                key_node,
                f'duplicate key "{short(key)}" (first at line {where.line + 1}, column {where.column + 1});'
                " remove one of them",
            )
            return None
        return key

    def sequence(self, node: Node, what: str) -> List[Node]:
        if is_bad(node):
            raise Bad()
        if not isinstance(node, SequenceNode):
            value = self.value(node) if isinstance(node, ScalarNode) else node
            raise self.err(node, f"{what}: expected a list (lines starting with '- '), got {found(node, value)}")
        return node.value

    # -- one method per kind of value in the grammar (the table below)

    def _text_value(self, spec: g.Text, node: Node) -> str:
        return self.text(node, spec.what, numbers=spec.numbers, limit=spec.limit, one_line=spec.one_line)

    def _keyword_value(self, spec: g.Keyword, node: Node) -> str:
        word = self.text(node, spec.what, numbers=False, limit=50)
        if word not in spec.choices:
            raise self.err(
                node,
                f'unknown {spec.noun} "{word}"{did_you_mean(word, spec.choices)};'
                f" use one of {', '.join(spec.choices)}",
            )
        return word

    def _flag_value(self, spec: g.Flag, node: Node) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            raise self.err(node, f"{spec.what}: expected true or false, got {found(node, value)}")
        return value

    def _language_value(self, spec: g.Language, node: Node) -> str:
        text = self.text(node, "language", limit=spec.limit)
        if not _LANGUAGE.fullmatch(text):  # not match: $ allows a final newline
            raise self.err(node, f"language: {text!r} is not a language code; write e.g. en, de or en-GB")
        return text

    def _duration_value(self, spec: g.Duration, node: Node) -> float:
        return self.duration(node, spec.what, positive=spec.positive, low=spec.low, high=spec.high)

    def _integer_value(self, spec: g.Integer, node: Node) -> int:
        return self.integer(node, spec.what, spec.low, spec.high, spec.unit)

    def _number_value(self, spec: g.Number, node: Node) -> float:
        return self.number(node, spec.what, spec.low, spec.high)

    def _script_ref_value(self, spec: g.ScriptRef, node: Node) -> str:
        return self.text(node, spec.what, numbers=False, limit=spec.limit, one_line=True)


Reader.readers = {
    g.Text: Reader._text_value,
    g.Keyword: Reader._keyword_value,
    g.Flag: Reader._flag_value,
    g.Language: Reader._language_value,
    g.Duration: Reader._duration_value,
    g.Level: lambda self, spec, node: self.parsed(node, spec.what, units.parse_level),
    g.Gain: lambda self, spec, node: self.parsed(node, spec.what, units.parse_gain),
    g.Pitch: lambda self, spec, node: self.parsed(node, spec.what, units.parse_pitch),
    g.Integer: Reader._integer_value,
    g.Number: Reader._number_value,
    g.ScriptRef: Reader._script_ref_value,
    g.Mapping: Reader.keyed,
}
