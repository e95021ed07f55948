"""The published page in a real browser: headless Chromium loads it with no network request and no broken image.

Negative controls prove the check can fail. Where Chromium or playwright is missing these tests skip, except under
CI (`CI=true`), where a missing browser is a broken environment and the tests fail instead.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import shutil
from pathlib import Path

import matplotlib
import pytest

from browser import CHROMIUM, PageCheck, check_page
from stages.page import render_page

matplotlib.use("Agg")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The browser, or a skip saying what is missing; under CI=true a missing browser fails instead of skipping.

    Session-scoped and listed first by the tests, so that a skip happens before any expensive fixture runs.
    """
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("the Python package playwright (pip install -e '.[test]')")
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)"
                       + (f"; one is on PATH at {found}, set CHROMIUM_PATH to use it" if found else ""))
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true, so this fails rather than skips", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


def save_figure(path: Path, color: str) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(3, 2), dpi=50)
    axes.plot([0, 1, 2], [0, 1, 0], color=color)
    figure.savefig(path, format="png")
    plt.close(figure)


def assert_screenshot(path: Path) -> None:
    """A real PNG with something drawn on it: more than one colour."""
    from PIL import Image

    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), f"{path} is not a PNG"
    with Image.open(path) as image:
        width, height = image.size
        assert width > 0 and height > 0
        assert image.convert("L").getextrema()[0] != image.convert("L").getextrema()[1], "blank screenshot"


def assert_clean(check: PageCheck, images: int | None = None) -> None:
    assert check.requests == [], f"the page made network requests: {check.requests}"
    assert check.broken_images == [], f"images did not render: {check.broken_images}"
    if images is not None:
        assert check.image_count == images


def test_rendered_page_loads_offline_with_all_images(chromium: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    (report / "figures").mkdir(parents=True)
    save_figure(report / "figures" / "one.png", "tab:blue")
    save_figure(report / "figures" / "two.png", "tab:orange")
    markdown = (
        "# A small report\n\nSome text with a [table](tables/cells.csv).\n\n"
        "| a | b |\n|---|---|\n| x | 1.5 |\n\n"
        "![First](figures/one.png)\n\n*Figure 1. The first figure.*\n\n"
        "![Second](figures/two.png)\n\n*Figure 2. The second figure.*\n"
    )
    page = report / "index.html"
    page.write_text(render_page(markdown, base_dir=report, title="A small report"), encoding="utf-8")

    check = check_page(page, tmp_path / "shot.png")

    assert_clean(check, images=2)
    assert check.title == "A small report"
    assert_screenshot(tmp_path / "shot.png")


def test_remote_image_is_caught(chromium: Path, tmp_path: Path) -> None:
    page = tmp_path / "remote.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>remote</title></head>'
                    '<body><p>x</p><img src="http://example.invalid/x.png" alt="remote"></body></html>')

    check = check_page(page, tmp_path / "shot.png")

    assert check.image_count == 1
    # Seen as a request, and, since the check aborts it before it leaves, as a broken image too.
    assert check.broken_images == ["http://example.invalid/x.png"]
    assert "http://example.invalid/x.png" in check.requests


def test_corrupt_data_image_is_broken(chromium: Path, tmp_path: Path) -> None:
    corrupt = base64.b64encode(PNG_SIGNATURE + b"this is not an image" * 10).decode()
    page = tmp_path / "corrupt.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>corrupt</title></head>'
                    f'<body><img src="data:image/png;base64,{corrupt}" alt="corrupt"></body></html>')

    check = check_page(page, tmp_path / "shot.png")

    assert check.requests == []  # a data: URI is not a network request
    assert check.image_count == 1
    assert len(check.broken_images) == 1 and check.broken_images[0].startswith("data:image/png;base64,")


def test_report_page_in_browser(chromium: Path, pipeline_run, tmp_path: Path) -> None:
    """The page the report stage publishes, from the tiny `dvc repro`, is self-contained and renders."""
    root, _ = pipeline_run
    page = root / "reports" / "index.html"
    assert page.is_file(), f"the report stage did not write {page}"

    check = check_page(page, tmp_path / "report.png")

    assert_clean(check)
    assert check.title.strip(), "the page has no title"
    assert check.image_count >= 1, "the page shows no figure"
    assert_screenshot(tmp_path / "report.png")
