"""Lint and types are part of the test suite: ruff and mypy, as configured in pyproject.toml.

Each runs as its own process from the repository's root, so it reads the
same configuration as a person typing ``python -m ruff check`` or
``python -m mypy`` there (the README's "Tests and benchmarks"), and a
finding fails the test with the tool's own lines. Nothing is tolerated: a
finding is fixed, or silenced where it stands with a comment saying why.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_tool(module: str, args: List[str]) -> None:
    if importlib.util.find_spec(module) is None:
        if module == "mypy" and sys.version_info < (3, 10):
            pytest.skip("mypy runs on Python 3.10 and newer")
        pytest.fail(f"{module} is not installed: it is in the test extra (`./run test` installs it)")
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"python -m {module} {' '.join(args)} found problems:\n{done.stdout}", pytrace=False)


def test_ruff() -> None:
    run_tool("ruff", ["check", "--quiet", "--no-fix", "--output-format=concise"])  # one line a finding, as mypy


def test_mypy() -> None:
    run_tool("mypy", [])
