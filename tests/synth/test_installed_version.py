"""The versions in a Piper clip's cache key, read from the installed distributions' folder names.

The fast way (one ``NAME-VERSION.dist-info`` beside the package) must give
exactly what ``importlib.metadata`` gives, or every cached clip's key would
change with the way it was read.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

import pytest

from voiceguide.synth.engines import installed_version


@pytest.mark.parametrize("dist, package", [("piper-tts", "piper"), ("onnxruntime", "onnxruntime"),
                                           ("PyYAML", "yaml"), ("click", "click"),
                                           ("pyttsx3", "pyttsx3")])
def test_it_is_what_importlib_metadata_says(dist, package):
    try:
        expected = version(dist)
    except PackageNotFoundError:
        expected = None
    assert installed_version(dist, package) == expected


def _site(tmp_path, monkeypatch, *dist_infos):
    site = tmp_path / "site"
    (site / "fakepkg").mkdir(parents=True)
    (site / "fakepkg" / "__init__.py").write_text("")
    for name in dist_infos:
        (site / name).mkdir()
    monkeypatch.syspath_prepend(str(site))
    sys.modules.pop("fakepkg", None)
    return site


def test_one_folder_beside_the_package_is_read_by_its_name(tmp_path, monkeypatch):
    _site(tmp_path, monkeypatch, "fake_dist-2.5.1.dist-info", "other-1.0.dist-info")
    assert installed_version("fake-dist", "fakepkg") == "2.5.1"


def test_two_folders_or_none_are_asked_of_importlib_metadata(tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr("importlib.metadata.version", lambda d: asked.append(d) or "9.9")
    _site(tmp_path, monkeypatch, "fake_dist-2.5.1.dist-info", "fake_dist-2.6.dist-info")
    assert installed_version("fake-dist", "fakepkg") == "9.9"
    assert installed_version("fake-dist", "no_such_package_here") == "9.9"
    assert asked == ["fake-dist", "fake-dist"]


def test_a_distribution_installed_nowhere_is_none():
    assert installed_version("no-such-dist-at-all", "no_such_package_here") is None
