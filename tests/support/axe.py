"""The axe-core accessibility audit, run in the page by Selenium: offline, from a Python package.

axe-core's ``axe.min.js`` comes from the ``axe-core-python`` package (the
``test`` extra; axe-core 4.4, no dependencies), read from its folder and
injected with ``execute_script``: DevTools' evaluation is not bound by the
page's Content-Security-Policy, so the page keeps its strict policy and
nothing is fetched from anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

#: What fails a test: axe's two worst impact levels.
SERIOUS = ("serious", "critical")


def axe_script() -> str:
    try:
        import axe_core_python
    except ImportError:
        pytest.skip("axe-core-python is not installed (the test extra installs it: ./run test)")
    return (Path(axe_core_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def audit(driver) -> Dict[str, Any]:
    """axe's full result for the page as it is now (WCAG 2.x A and AA rules, and best practice)."""
    driver.execute_script(axe_script())
    driver.set_script_timeout(60)
    return driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(function (r) { done(r); }, function (e) { done({error: String(e)}); });")


def serious_findings(driver) -> List[str]:
    """One line per serious or critical violation: rule, impact, and the elements it found."""
    result = audit(driver)
    assert "error" not in result, result.get("error")
    lines = []
    for violation in result["violations"]:
        if violation.get("impact") in SERIOUS:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]][:5]
            lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -- {targets}")
    return lines
