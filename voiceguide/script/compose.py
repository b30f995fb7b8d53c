"""YAML text to a node tree, within limits, without ever constructing a tagged object.

PyYAML (libyaml when available) only *parses* here: :class:`Composer` pulls
its events and builds the node tree itself. Nothing is ever constructed from
a tag: ``!!python/...`` or custom ``!tags`` are located problems, and only
scalars are converted later (by :mod:`voiceguide.script.values`).

Building the tree ourselves lets us refuse hostile input while it is read,
without recursion:

* nesting deeper than :data:`~voiceguide.script.model.MAX_DEPTH`;
* more than :data:`~voiceguide.script.model.MAX_NODES` nodes with every alias
  counted as the whole node it repeats (a "billion laughs" file stops at the
  alias that crosses the limit, in microseconds);
* recursive and undefined aliases.

A node already reported (a bad tag, a bad alias) is marked with
:func:`mark_bad`; the builder skips it without a second message
(:func:`is_bad`).

Trap: an alias shares its node with the anchor, so the tree is a DAG, not a
tree; nothing downstream may mutate nodes.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

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

from voiceguide.script.model import MAX_DEPTH, MAX_NODES
from voiceguide.script.problems import Fatal, Problems, short

_Loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

TAG = "tag:yaml.org,2002:"
STR_TAG = TAG + "str"
MERGE_TAG = TAG + "merge"
_SCALAR_TAGS = frozenset(TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_SEQ_TAG = TAG + "seq"
_MAP_TAG = TAG + "map"


def mark_bad(node: Node) -> None:
    """Mark *node* as reported: later stages skip it silently."""
    node.voiceguide_bad = True  # type: ignore[attr-defined]


def is_bad(node: Node) -> bool:
    return getattr(node, "voiceguide_bad", False)


class _Frame:
    """A collection being read: its items so far, its size and height with aliases expanded."""

    __slots__ = ("node", "items", "size", "height", "anchor")

    def __init__(self, node: Node, anchor: Optional[str]):
        self.node = node
        self.items: List[Node] = []
        self.size = 1
        self.height = 1
        self.anchor = anchor


class Composer:
    """Build a yaml node tree from parser events, iteratively, within limits."""

    def __init__(self, text: str, problems: Problems):
        self.text = text
        self.problems = problems
        #: anchor -> (node, size with aliases expanded, height)
        self.anchors: Dict[str, Tuple[Node, int, int]] = {}
        #: anchors of collections still being read (an alias to one is recursive)
        self.open_anchors: Dict[str, int] = {}
        self.total = 0
        self._resolved: Dict[Tuple[str, Any], str] = {}

    def compose(self) -> Optional[Node]:
        """The root node, or None (empty file, or problems added)."""
        parser = _Loader(self.text)
        try:
            return self._document(parser)
        except Fatal:
            return None
        except yaml.MarkedYAMLError as exc:
            self.problems.at_or_start(exc.problem_mark or exc.context_mark,
                                      syntax_message(exc, self.text))
            return None
        except yaml.YAMLError as exc:  # a reader error without a mark
            self.problems.add(1, 1, f"cannot read the file as YAML: {exc}; save it as UTF-8 text")
            return None
        finally:
            parser.dispose()

    def _document(self, parser: Any) -> Optional[Node]:
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

    # -- limits

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
            raise Fatal

    def _too_deep(self, mark: Any) -> None:
        self.problems.at(
            mark,
            f"the script is nested more than {MAX_DEPTH} levels deep here;"
            " flatten it (fewer nested repeats or lists)",
        )
        raise Fatal

    # -- the event loop

    def _node(self, parser: Any) -> Node:
        """Read one node (and everything under it) without recursion.

        Scalars, by far the most common event, are handled inline: this loop
        is what a 1 MB script costs.
        """
        stack: List[_Frame] = []
        get_event = parser.get_event
        while True:
            event = get_event()
            cls = event.__class__
            if cls is ScalarEvent:
                node: Node = self._scalar(parser, event)
                if stack:
                    parent = stack[-1]
                    parent.items.append(node)
                    parent.size += 1
                    continue
                return node
            if cls is SequenceStartEvent or cls is MappingStartEvent:
                stack.append(self._open(event, cls is SequenceStartEvent, len(stack)))
                continue
            if cls is SequenceEndEvent or cls is MappingEndEvent:
                node, size, height = self._close(stack.pop(), event)
            elif cls is AliasEvent:
                node, size, height = self._alias(event, len(stack))
            else:  # pragma: no cover - the parser guarantees node events here
                raise yaml.YAMLError(f"unexpected {type(event).__name__}")
            if not stack:
                return node
            parent = stack[-1]
            parent.items.append(node)
            parent.size += size
            if height + 1 > parent.height:
                parent.height = height + 1

    def _scalar(self, parser: Any, event: Any) -> ScalarNode:
        self.total += 1
        if self.total > MAX_NODES:
            self._count(event.start_mark, 0)
        tag = event.tag
        value = event.value
        if tag is None or tag == "!":
            key = (value, event.implicit)
            tag = self._resolved.get(key)
            if tag is None:
                tag = self._resolved[key] = parser.resolve(ScalarNode, value, event.implicit)
        node = ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        if tag not in _SCALAR_TAGS:
            self._bad_tag(node, event.tag or tag)
        if event.anchor is not None:
            self.anchors[event.anchor] = (node, 1, 0)
        return node

    def _open(self, event: Any, is_seq: bool, depth: int) -> _Frame:
        self._count(event.start_mark, 1)
        if depth + 1 > MAX_DEPTH:
            self._too_deep(event.start_mark)
        kind = SequenceNode if is_seq else MappingNode
        plain = _SEQ_TAG if is_seq else _MAP_TAG
        tag = event.tag
        if tag is None or tag == "!":
            tag = plain  # what the safe resolver says
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        if tag != plain:
            self._bad_tag(node, tag)
        if event.anchor is not None:
            self.open_anchors[event.anchor] = 1
            self.anchors.pop(event.anchor, None)
        return _Frame(node, event.anchor)

    def _close(self, frame: _Frame, event: Any) -> Tuple[Node, int, int]:
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
        return node, frame.size, frame.height

    def _alias(self, event: Any, depth: int) -> Tuple[Node, int, int]:
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
            node: Node = ScalarNode(TAG + "null", "", event.start_mark, event.end_mark)
            mark_bad(node)
            self._count(event.start_mark, 1)
            return node, 1, 0
        node, size, height = entry
        if depth + height > MAX_DEPTH:
            self._too_deep(event.start_mark)
        self._count(event.start_mark, size, alias=name)
        return node, size, height

    def _bad_tag(self, node: Node, tag: str) -> None:
        shown = tag
        if tag.startswith(TAG):
            shown = "!!" + tag[len(TAG):]
        self.problems.at(
            node.start_mark,
            f"the tag {short(shown, 60)} is not allowed; scripts hold plain text, numbers, lists and"
            " mappings only, so remove the tag",
        )
        mark_bad(node)


# --- syntax errors, worded for people ---------------------------------------------


def syntax_message(exc: yaml.MarkedYAMLError, text: str) -> str:
    """The problem for a YAML syntax error: PyYAML's words, where, and what to do."""
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or "invalid YAML").strip()
    where = ""
    if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        cm = exc.context_mark
        where = f" {exc.context} at line {cm.line + 1}, column {cm.column + 1}"
    hint = _hint(problem, exc.context or "", _char_at(text, mark))
    return f"YAML syntax error: {problem}{where}; {hint}"


def _char_at(text: str, mark: Any) -> str:
    if mark is None:
        return ""
    lines = text.splitlines()
    if 0 <= mark.line < len(lines) and 0 <= mark.column < len(lines[mark.line]):
        return lines[mark.line][mark.column]
    return ""


#: (words in PyYAML's problem, what to tell the author), first match wins.
_HINTS = (
    ("mapping values are not allowed",
     "text containing ': ' must be put in quotes; otherwise check the indentation of this line"),
    ("expected ',' or ']'", "close the list with ']' or add the missing ','"),
    ("expected ',' or '}'", "close the mapping with '}' or add the missing ','"),
    ("expected '-' indicator", "items of one list must line up and start with '- '; check the indentation"),
    ("block end", "items of one list must line up and start with '- '; check the indentation"),
    ("expected key", "keys of one mapping must line up; check the indentation"),
    ("expected ':'", "a key needs ': ' after it; otherwise put the text in quotes"),
    ("block sequence entries are not allowed", "start the '- ' item on a new line, indented under its key"),
    ("escape", "inside double quotes write \\\\ for a backslash, or use single quotes"),
)


def _hint(problem: str, context: str, char: str) -> str:
    """What to do about a syntax error; the order of the checks matters."""
    if char == "\t":
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return _HINTS[0][1]
    if "cannot start any token" in problem:
        return f"text starting with {char!r} must be put in quotes" if char else "put this text in quotes"
    if "end of stream" in problem and "quoted" in context:
        return "close the quote"
    for words, hint in _HINTS[1:]:
        if words in problem:
            return hint
    if "nesting depth" in problem:
        return f"flatten it; scripts may nest at most {MAX_DEPTH} levels"
    return "check the indentation (spaces only) and put text with special characters in quotes"
