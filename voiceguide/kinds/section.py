"""The ``section`` step: names the steps that follow (status line, ``--from``); takes no time."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

from voiceguide.kinds.base import Kind, Placing, register
from voiceguide.script.grammar import MAX_TITLE_CHARS, StepKind, Text
from voiceguide.script.model import Section


class SectionKind(Kind):
    """A marker: it places nothing, the events after it carry its name."""

    name = "section"
    step_type = Section
    marker = True
    grammar = StepKind("section", Text("section name", limit=MAX_TITLE_CHARS, one_line=True),
                       "name the part that follows (status line, --from)", example="section: Settling")

    def build(self, b: Any, node: Any, value_node: Any, value: Any, options: Dict[str, Any]) -> Section:
        return Section(name=value, source=b.source(node))

    def place(self, step: Section, at: Placing) -> Iterator[Any]:
        at.section(step.name)
        return iter(())

    def silences(self, step: Section) -> Iterator[Optional[float]]:
        return iter(())


KIND = register(SectionKind())
