"""The commands the README and docs/authoring.md tell a newcomer to type, typed word for word.

Issue 13: the worked example in docs/authoring.md failed at its own check
step (`validate` took only paths) and so did the README's authoring block.
These tests take the commands from the documents themselves, so a doc that
drifts from the program fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli
from voiceguide.script import catalog

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
AUTHORING = ROOT / "docs" / "authoring.md"


def run(argv):
    return CliRunner().invoke(cli, argv)


def run_line(line: str):
    """One documented shell line: `voiceguide ARGS [# comment]`, with an optional `> FILE`."""
    words = shlex.split(line, comments=True)
    assert words and words[0] == "voiceguide", line
    target = None
    if ">" in words:
        at = words.index(">")
        words, target = words[:at], words[at + 1]
    result = run(words[1:])
    assert result.exit_code == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    if target:
        Path(target).write_text(result.stdout, encoding="utf-8")
    return result


@pytest.mark.audio
def test_the_readme_authoring_block_works_word_for_word(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Writing your own exercises"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    lines = [line for line in block.splitlines() if line.strip()]
    assert any(line.split()[1] == "validate" for line in lines)
    for line in lines:
        run_line(line)
    assert (catalog.user_dir() / "my-exercise.yaml").is_file()
    assert (tmp_path / "my.wav").stat().st_size > 0 and (tmp_path / "my.vtt").is_file()
    assert '"$schema"' in (tmp_path / "voiceguide.schema.json").read_text(encoding="utf-8")


def test_the_authoring_worked_example_checks_as_the_doc_says(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    doc = AUTHORING.read_text(encoding="utf-8")
    example = doc[doc.index("## Worked example"):]
    start = re.search(r"\*\*1\. Start a file\.\*\* `(voiceguide [^`]+)`", example).group(1)
    written = Path(run_line(start).stdout.strip())
    whole = [b for b in re.findall(r"```yaml\n(.*?)```", example, re.S) if "section: Closing" in b][0]
    written.write_text(whole, encoding="utf-8")
    check = re.search(r"\*\*6\. Check it\.\*\* `(voiceguide [^`]+)` prints\s+`([^`]+)`", example)
    assert run_line(check.group(1)).stdout.strip() == check.group(2)
    # the file name as a person may type it, from any folder, finds the same exercise
    assert run(["validate", "--lint", "midday-pause.yaml"]).stdout.strip() == check.group(2)
