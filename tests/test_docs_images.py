"""The docs' pictures exist, are used, and are the ones the screenshot script makes."""

from __future__ import annotations

import importlib.util
import re
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"
IMAGES = DOCS / "images"
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _referenced_images() -> dict[str, list[str]]:
    """Image path (relative to docs/) -> pages that show it."""
    found: dict[str, list[str]] = {}
    for page in sorted(DOCS.glob("*.md")):
        for target in IMAGE.findall(page.read_text(encoding="utf-8")):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):
                found.setdefault(target, []).append(page.name)
    return found


def _screenshot_script() -> Any:
    path = DOCS / "screenshots" / "make_screenshots.py"
    spec = importlib.util.spec_from_file_location("make_screenshots", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # stdlib imports only at module level
    return module


SCRIPT = _screenshot_script()


def test_every_referenced_image_exists() -> None:
    missing = {
        target: pages
        for target, pages in _referenced_images().items()
        if not (DOCS / target).is_file()
    }
    assert not missing, f"pages show images that do not exist: {missing}"


def test_every_image_in_docs_images_is_shown_somewhere() -> None:
    shown = {Path(target).name for target in _referenced_images() if target.startswith("images/")}
    unused = sorted(path.name for path in IMAGES.glob("*") if path.name not in shown)
    assert unused == []


def test_the_screenshot_script_makes_exactly_the_screenshots_the_docs_show() -> None:
    shown = {Path(target).name for target in _referenced_images() if target.startswith("images/")}
    outputs = set(SCRIPT.OUTPUTS)
    assert outputs <= shown, f"made but not shown: {sorted(outputs - shown)}"
    assert {path.name for path in IMAGES.glob("*.png")} == outputs


@pytest.mark.parametrize("name", sorted(SCRIPT.OUTPUTS))
def test_screenshots_are_viewport_sized_pngs_of_reasonable_weight(name: str) -> None:
    data = (IMAGES / name).read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    viewport = SCRIPT.VIEWPORT
    assert (width, height) == (viewport["width"], viewport["height"])
    assert 10_000 < len(data) < 500_000
