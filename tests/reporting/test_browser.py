"""The published page in a real browser: headless Chromium loads it with no network request and no broken image,
and a reader can use it on a phone (nothing but scroll containers wider than 390 px), on paper (no table cut off,
collapsed sections printed), through its table of contents (the report's own Markdown links), and through
the links to each figure's data and print version, files beside the page.

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
from browser import (
    CHROMIUM,
    PageCheck,
    assert_within_budget,
    check_page,
    clipped_tables,
    linked_files,
    open_page,
    overflowing_elements,
    toc_links_that_miss,
)

from stages.reporting.page import markdown_toc, render_page

matplotlib.use("Agg")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Every test here reads the shared run of the whole DVC pipeline (or drives a browser): the slow subset.
pytestmark = pytest.mark.slow


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
    (report / "tables").mkdir()
    (report / "tables" / "cells.csv").write_text("a,b\nx,1.5\n")
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


# --- A reader's view: a phone, paper, the table of contents, the downloads behind each figure ---

PHONE = {"width": 390, "height": 844}
A4 = {"width": 794, "height": 1123}  # A4 at 96 dpi
LONG_CELL = "grid/SameDistRandom-Random-10_" + "x" * 60  # no break opportunity anywhere


def synthetic_markdown(figures: list[str]) -> str:
    """A report in the report stage's dialect: summary box, a table of contents as a Markdown list of links to the
    headings (GitHub's slugs), badges, a very wide table, a long cell, figures with their CSV and SVG, collapsible
    sections, and enough text that every section can scroll to the top."""
    header = "| cell | " + " | ".join(f"metric {i}" for i in range(18)) + " |"
    rule = "|---|" + "---|" * 18
    row = f"| `{LONG_CELL}` | " + " | ".join("0.117 [-0.032, 0.265]" for _ in range(18)) + " |"
    filler = "\n\n".join(["Words that fill the section so that the page is long enough to scroll. " * 6] * 4)
    parts = [
        "# A synthetic report with a title long enough to wrap on a phone screen",
        '<div class="summary">\n\nThe effect reproduces: <span class="badge badge-holds">holds</span>; the closing '
        'remark <span class="badge badge-fails">fails</span>; claim 3 <span class="badge badge-inconclusive">'
        'inconclusive</span>.\n\n</div>',
        "<!-- toc -->",
        "## Claims",
        "| # | claim | verdict |\n|---|---|---|\n"
        '| 1 | headline | <span class="badge badge-holds">holds</span> |\n'
        '| 2 | not run | <span class="badge badge-not-tested">not tested</span> |',
        filler,
        "### A very wide table",
        f"{header}\n{rule}\n{row}\n{row}",
        filler,
    ]
    for number, key in enumerate(figures, start=1):
        parts += [f"## Figure {key}", f"![{key}](figures/{key}.png)",
                  f"*Figure {number}. The {key} curve. Data: [{key}.csv](figures/{key}.csv) · print version: "
                  f"[{key}.svg](figures/{key}.svg).*", filler]
    parts += [
        "## Every cell",
        f"<details>\n<summary>All cells of `grid` (2)</summary>\n\n{header}\n{rule}\n{row}\n\n- a list item"
        "\n\n</details>",
        "<details>\n<summary>Wall time</summary>\n\n| cell | seconds |\n|---|---|\n"
        f"| `{LONG_CELL}` | 12.5 |\n\n</details>",
        "## Reproduce",
        f"```\ndvc exp run --set-param {LONG_CELL}=1\n```",
        "A paragraph with a long unbreakable name in code: `" + LONG_CELL + "` and a plain one " + LONG_CELL + ".",
    ]
    text = "\n\n".join(parts) + "\n"
    return text.replace("<!-- toc -->", markdown_toc(text), 1)


@pytest.fixture(scope="module")
def synthetic_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic report rendered to index.html next to its figures (a wide 840 px PNG, its SVG and CSV)."""
    import matplotlib.pyplot as plt

    report = tmp_path_factory.mktemp("synthetic")
    (report / "figures").mkdir()
    keys = ["gap", "loss"]
    for index, key in enumerate(keys):
        figure, axes = plt.subplots(figsize=(7, 3), dpi=120)
        axes.plot([0, 1, 2, 3], [index, 1, 0, 2], label=key)
        axes.legend()
        figure.savefig(report / "figures" / f"{key}.png", format="png")
        figure.savefig(report / "figures" / f"{key}.svg", format="svg", metadata={"Date": None})
        plt.close(figure)
        (report / "figures" / f"{key}.csv").write_text(f"step,{key}\n0,{index}\n1,1\n2,0\n3,2\n")
    page = report / "index.html"
    page.write_text(render_page(synthetic_markdown(keys), base_dir=report, title="Synthetic"), encoding="utf-8")
    return page


def open_all_details(page) -> None:
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")


def test_phone_width_nothing_overflows_the_page(chromium: Path, synthetic_page: Path) -> None:
    with open_page(synthetic_page, **PHONE) as page:
        closed = overflowing_elements(page)
        open_all_details(page)
        opened = overflowing_elements(page)
        scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
        # The check had something to catch: the wide table and the wide figures are wider than the screen.
        wide_table = page.evaluate("() => { const w = document.querySelectorAll('.table-wrap')[1];"
                                   " return [w.scrollWidth, w.clientWidth]; }")
        figure_widths = page.eval_on_selector_all(".figure-scroll img", "imgs => imgs.map(i => i.clientWidth)")
        shadows = page.eval_on_selector(".table-wrap", "w => getComputedStyle(w).backgroundAttachment")

    assert closed == [] and opened == [], f"sticks out at 390 px: {closed or opened}"
    assert scroll_width <= PHONE["width"]
    assert wide_table[0] > wide_table[1], "the wide table should scroll inside its container"
    assert "local" in shadows, "scroll shadows are the hint that a table continues to the side"
    # Decided: a wide figure keeps 540 px on a phone and scrolls sideways rather than shrinking to 350 px.
    assert figure_widths and all(width >= 540 for width in figure_widths), figure_widths


def test_phone_check_catches_an_overflow(chromium: Path, synthetic_page: Path) -> None:
    """Negative control: with the tables' scroll containers opened up, the wide table sticks out and is reported."""
    with open_page(synthetic_page, **PHONE) as page:
        page.add_style_tag(content=".table-wrap { overflow: visible !important; }")
        overflowing = overflowing_elements(page)
    assert any(item.startswith("table right=") for item in overflowing), overflowing


def test_print_clips_no_table_and_prints_closed_details(chromium: Path, synthetic_page: Path) -> None:
    with open_page(synthetic_page, **A4) as page:
        hidden_on_screen = page.evaluate("() => Array.from(document.querySelectorAll('details:not([open]) table'))"
                                         ".map(t => t.checkVisibility())")
        page.emulate_media(media="print")
        clipped = clipped_tables(page)
        printed = page.evaluate("() => Array.from(document.querySelectorAll('details:not([open]) table'))"
                                ".map(t => t.checkVisibility() && t.getBoundingClientRect().height > 0)")
        close_links = page.eval_on_selector_all(".figure-close, .full-size",
                                                "links => links.map(a => a.checkVisibility())")
        table_font = page.eval_on_selector("table", "t => parseFloat(getComputedStyle(t).fontSize)")

    assert hidden_on_screen and not any(hidden_on_screen), "closed sections should be closed on screen"
    assert clipped == [], clipped
    assert printed and all(printed), "the content of closed sections must be printed"
    assert close_links and not any(close_links), "the full-size view's links are for the screen only"
    assert table_font < 12


def test_print_check_catches_a_clipped_table(chromium: Path, synthetic_page: Path) -> None:
    """Negative control: with the print rules for tables undone, the wide table is cut off and reported."""
    with open_page(synthetic_page, **A4) as page:
        page.emulate_media(media="print")
        page.add_style_tag(content=".table-wrap { overflow-x: auto !important; } th, td { min-width: 6em !important;"
                                   " overflow-wrap: normal !important; }")
        assert clipped_tables(page) != []


def test_every_toc_link_brings_its_section_into_view(chromium: Path, synthetic_page: Path) -> None:
    """The table of contents is the report's Markdown list of links (as on GitHub); in the page it reaches every
    section at a phone's width and a desktop's."""
    for viewport in (PHONE, {"width": 1280, "height": 900}):
        with open_page(synthetic_page, **viewport) as page:
            in_nav = page.eval_on_selector_all("nav.toc a", "links => links.length")
            clicked, missed = toc_links_that_miss(page)
        assert clicked >= 6, "every h2 and h3 should be listed"
        assert in_nav == clicked, "the list of links is set in the page's nav"
        assert missed == [], f"at {viewport['width']} px: {missed}"


def test_each_figures_data_and_print_version_are_files_beside_the_page(chromium: Path, synthetic_page: Path) -> None:
    """The caption's links resolve, in the browser, to the CSV and SVG in figures/ beside the page; the page loads
    without fetching them (they are followed on a click only)."""
    folder = synthetic_page.parent.resolve()
    requests: list[str] = []
    with open_page(synthetic_page, requests=requests) as page:
        links = linked_files(page, 'figure figcaption a[href$=".csv"], figure figcaption a[href$=".svg"]')
    assert [written for written, _ in links] == ["figures/gap.csv", "figures/gap.svg", "figures/loss.csv",
                                                  "figures/loss.svg"]
    for written, path in links:
        assert path is not None and path.is_file(), f"{written} resolves to {path}, which is not a file"
        assert path.parent == folder / "figures", f"{written} is not beside the page"
    assert requests == []


def test_figure_opens_at_full_size_and_closes(chromium: Path, synthetic_page: Path) -> None:
    with open_page(synthetic_page, **PHONE) as page:
        anchor = page.eval_on_selector("figure", "f => f.id")  # "figure-gap-1": the heading "Figure gap" has the first
        page.click(f"#{anchor} .figure-open")
        opened = page.evaluate("""(id) => { const view = document.getElementById(id);
            const img = view.querySelector('img');
            return {position: getComputedStyle(view).position, width: img.getBoundingClientRect().width,
                    natural: img.naturalWidth, close: view.querySelector('.figure-close').checkVisibility(),
                    scrolls: view.scrollWidth > view.clientWidth, hash: location.hash}; }""", f"{anchor}-full")
        page.click(f"#{anchor}-full .figure-close")
        closed = page.evaluate("(id) => getComputedStyle(document.getElementById(id)).position", f"{anchor}-full")
    assert opened["hash"] == f"#{anchor}-full"
    assert opened["position"] == "fixed" and opened["close"], opened
    assert opened["width"] == opened["natural"] and opened["scrolls"], opened
    assert closed == "static"


def test_dark_mode_keeps_figures_on_a_light_backing(chromium: Path, synthetic_page: Path) -> None:
    with open_page(synthetic_page) as page:
        page.emulate_media(color_scheme="dark")
        colours = page.evaluate("""() => ({body: getComputedStyle(document.body).backgroundColor,
            text: getComputedStyle(document.body).color,
            figure: getComputedStyle(document.querySelector('figure img')).backgroundColor,
            badge: getComputedStyle(document.querySelector('.badge-holds')).backgroundColor})""")
    assert colours["body"] == "rgb(20, 21, 24)" and colours["text"] == "rgb(231, 231, 234)"
    assert colours["figure"] == "rgb(255, 255, 255)"
    assert colours["badge"] == "rgb(0, 114, 178)"


def test_report_page_in_browser(chromium: Path, pipeline_run, tmp_path: Path) -> None:
    """The page the report stage publishes, from the tiny `dvc repro`, is self-contained, renders, and reads well on a
    phone, on paper and through its table of contents, links each figure's data to a file beside it, and is
    within the page budget."""
    root, _ = pipeline_run
    reports = root / "reports"
    page_path = reports / "index.html"
    assert page_path.is_file(), f"the report stage did not write {page_path}"

    check = check_page(page_path, tmp_path / "report.png")

    assert_clean(check)
    assert check.title.strip(), "the page has no title"
    assert check.image_count >= 1, "the page shows no figure"
    assert_screenshot(tmp_path / "report.png")

    with open_page(page_path, **PHONE) as page:
        open_all_details(page)
        assert overflowing_elements(page) == []
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        clicked, missed = toc_links_that_miss(page)
        assert clicked >= 1 and missed == []
    with open_page(page_path, **A4) as page:
        page.emulate_media(media="print")
        assert clipped_tables(page) == []
    with open_page(page_path) as page:
        data_links = linked_files(page, 'figure a[href$=".csv"]')
        # Every link to a file (figures' data and print versions, sibling reports) is a file beside the page.
        file_links = [link for link in linked_files(page, "a[href]") if link[1] is not None
                      and link[1] != page_path.resolve()]
    # Where the browser resolves the links: beside the page as it opened it (lexically: a file may be a link into
    # DVC's cache).
    beside = page_path.resolve().parent
    assert data_links, "no figure links its data as a CSV"
    for written, path in data_links:
        assert path is not None and path.parent == beside / "figures" and path.is_file(), written
    for written, path in file_links:
        assert path.is_file() and path.is_relative_to(beside), f"{written} -> {path}"
    assert_within_budget(page_path, "the report stage's index.html")
