"""Unit tests of stages.reporting.page: one self-contained, deterministic HTML page from the report's Markdown, light
enough to publish (PAGE_BUDGET_BYTES), whose headings have GitHub's ids so that one table of contents in report.md
works on GitHub and in the page."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from browser import PAGE_BUDGET_BYTES, assert_within_budget

from stages.reporting.page import FIGURE_MIN_PX, markdown_toc, render_page, slug

# A valid 1x1 PNG: enough for the renderer, which never decodes images (the browser tests do).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

REPORT = """# Study <draft> & notes

Intro line one
continues *here* with **bold**, `a<b` and a [table](tables/cells.csv).

## Results

| data | bptt | loss |
|---|---|---|
| `Zeros` | 10 | 0.693 |
| `SameRandom` | 1,000 | -0.026 |

- first item
- second <item>

```
x = 1 < 2
```

![Input sequences](figures/inputs.png)

*Figure 1. The first steps
of each sequence.*

![Second](figures/gap.png)

Plain paragraph after an image.
"""


CELLS_CSV = b"cell,loss\ngrid/SameRandom-Random-10,0.117\n"


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "inputs.png").write_bytes(PNG)
    (tmp_path / "figures" / "gap.png").write_bytes(PNG)
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "cells.csv").write_bytes(CELLS_CSV)
    return tmp_path


def render(report_dir: Path, text: str = REPORT) -> str:
    return render_page(text, base_dir=report_dir, title="Report <1>")


def compact(page: str) -> str:
    """The page without the line breaks markdown-it puts between block tags, for comparing structure."""
    return re.sub(r">\s*\n\s*<", "><", page)


def pixels(image_bytes: bytes) -> tuple[tuple[int, int], str, bytes]:
    """Size, mode and raw pixels of an image, for comparing the picture rather than its encoding."""
    from PIL import Image

    with Image.open(io.BytesIO(image_bytes)) as image:
        rgba = image.convert("RGBA")
        return rgba.size, image.mode, rgba.tobytes()


def embedded(source: str) -> tuple[str, bytes]:
    """(mime, bytes) of a data: URI."""
    mime, payload = source.removeprefix("data:").split(";base64,")
    return mime, base64.b64decode(payload)


def test_document_is_html5_with_inline_style_only(report_dir: Path) -> None:
    page = render(report_dir)
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert "<style>" in page and "max-width: 60rem" in page and "max-width: 100%" in page
    assert "<link" not in page.split("<main>")[0]  # the style sheet (templates/page.css) is inlined, not linked
    assert "<title>Report &lt;1&gt;</title>" in page
    # Nothing that would be fetched or run: no stylesheet links, scripts or web fonts.
    for forbidden in ("<link", "<script", "@import", "@font-face", "url("):
        assert forbidden not in page


def test_style_sheet_is_the_package_template() -> None:
    from stages.reporting.page import STYLE

    css = (Path(__file__).resolve().parents[2] / "stages" / "reporting" / "templates" / "page.css").read_text()
    assert STYLE == css.strip()
    assert f".figure-scroll img.wide {{ min-width: {FIGURE_MIN_PX}px; }}" in STYLE  # the same number in both files


def test_images_are_embedded_as_data_uris(report_dir: Path) -> None:
    page = render(report_dir)
    sources = re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)
    assert len(sources) == 2
    assert sources[0] == sources[1]
    mime, data = embedded(sources[0])
    assert mime in ("image/png", "image/webp")
    assert 'src="http' not in page and 'src="figures/' not in page and 'src="//' not in page


def png_image(width: int, height: int, mode: str = "RGBA", seed: int = 0) -> bytes:
    """A PNG of a few lines on white, like a plot; RGBA with opaque alpha, as matplotlib writes."""
    from PIL import Image, ImageDraw

    image = Image.new(mode, (width, height), "white")
    draw = ImageDraw.Draw(image)
    for line in range(6):
        points = [(x, height / 2 + (height / 3) * ((x * (line + 1 + seed)) % 97 - 48) / 48)
                  for x in range(0, width, 7)]
        draw.line(points, fill=(30 * line, 90, 200 - 30 * line), width=2)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "P"])
def test_png_is_embedded_smaller_with_the_same_pixels(tmp_path: Path, mode: str) -> None:
    """A PNG goes in as lossless WebP when that is smaller: the same picture, pixel for pixel, in fewer bytes."""
    from PIL import Image

    original = png_image(600, 400)
    if mode != "RGBA":
        buffer = io.BytesIO()
        Image.open(io.BytesIO(original)).convert(mode).save(buffer, "PNG")
        original = buffer.getvalue()
    (tmp_path / "plot.png").write_bytes(original)
    page = render_page("![plot](plot.png)\n", base_dir=tmp_path, title="t")
    mime, data = embedded(re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)[0])
    assert mime == "image/webp" and len(data) < len(original)
    assert pixels(data)[0] == pixels(original)[0] and pixels(data)[2] == pixels(original)[2]
    assert 'width="600" height="400"' in page


def test_png_with_transparency_keeps_its_alpha(tmp_path: Path) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png_image(300, 200))).convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize((300, 200)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    (tmp_path / "alpha.png").write_bytes(buffer.getvalue())
    page = render_page("![a](alpha.png)\n", base_dir=tmp_path, title="t")
    mime, data = embedded(re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)[0])
    assert mime in ("image/png", "image/webp")
    assert pixels(data)[2] == image.tobytes()


def test_svg_is_embedded_with_its_type(tmp_path: Path) -> None:
    (tmp_path / "f.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')
    page = render_page("![svg](f.svg)\n", base_dir=tmp_path, title="t")
    assert 'src="data:image/svg+xml;base64,' in page


def test_missing_image_raises_file_not_found_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="figures/absent.png"):
        render_page("![gone](figures/absent.png)\n", base_dir=tmp_path, title="t")


@pytest.mark.parametrize("target", [
    "http://example.com/x.png", "https://example.com/x.png", "//example.com/x.png", "HTTP://EXAMPLE.COM/x.png",
    "file:///etc/x.png", "/abs/x.png",
])
def test_url_or_absolute_image_raises_value_error(tmp_path: Path, target: str) -> None:
    with pytest.raises(ValueError):
        render_page(f"![remote]({target})\n", base_dir=tmp_path, title="t")


def test_inline_image_in_a_paragraph_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_page("See ![remote](https://example.com/x.png) here.\n", base_dir=tmp_path, title="t")


def test_headings_get_anchors(report_dir: Path) -> None:
    page = render(report_dir)
    # As on GitHub: the raw tag `<draft>` is no text of the heading there (its sanitiser drops it), "&" goes, and each
    # of the three spaces left becomes a hyphen.
    assert '<h1 id="study---notes">Study &lt;draft&gt; &amp; notes</h1>' in page
    assert '<h2 id="results">Results</h2>' in page


def test_repeated_headings_get_distinct_anchors(tmp_path: Path) -> None:
    page = render_page("## Same\n\n## Same\n\n#### Deep\n\n## Same\n", base_dir=tmp_path, title="t")
    assert re.findall(r'id="([^"]+)"', page) == ["same", "same-1", "deep", "same-2"]
    assert "<h4" in page


# (heading as written in Markdown, the id GitHub gives it): GitHub lowercases the heading's text (code keeps its
# content, markup goes), drops what is not a letter, digit, "_", "-" or space, and turns each space into "-".
GITHUB_SLUGS = [
    ("2. The mechanism", "2-the-mechanism"),
    ("`SameRandom`, random states", "samerandom-random-states"),
    ("The write-up's effect, reproduced", "the-write-ups-effect-reproduced"),
    ("How many initial states can the network learn? The capacity axis",
     "how-many-initial-states-can-the-network-learn-the-capacity-axis"),
    ("The same findings at the write-up's own settings (profile `paper`)",
     "the-same-findings-at-the-write-ups-own-settings-profile-paper"),
    ("Loss *per* **epoch**: `loss_per_epoch`", "loss-per-epoch-loss_per_epoch"),
    ("9. Settings and wall time", "9-settings-and-wall-time"),
    ("Accuracy ≥ 0.5 — or not", "accuracy--05--or-not"),  # symbols and the dash go, their spaces stay
    ("C++ & C#", "c--c"),
    ("[Linked](https://example.com) heading", "linked-heading"),
    ("Größe und Übersicht", "größe-und-übersicht"),  # letters are letters in any script
    ("1.00x faster", "100x-faster"),
    ("Ends with a question?", "ends-with-a-question"),
]


@pytest.mark.parametrize(("heading", "expected"), GITHUB_SLUGS)
def test_heading_ids_are_githubs(tmp_path: Path, heading: str, expected: str) -> None:
    page = render_page(f"## {heading}\n", base_dir=tmp_path, title="t")
    assert re.findall(r'<h2 id="([^"]+)"', page) == [expected]


def test_slug_counts_repeats_as_github_does() -> None:
    used: dict[str, int] = {}
    assert [slug(text, used) for text in ["Results", "Results", "Results-1", "results", "R!esults"]] == [
        "results", "results-1", "results-1-1", "results-2", "results-3"]
    assert slug("!!!", {}) == "section"  # GitHub's empty id could not be linked to


def test_table_has_header_body_and_right_aligned_numbers(report_dir: Path) -> None:
    page = render(report_dir)
    assert "<thead><tr><th>data</th><th>bptt</th><th>loss</th></tr></thead>" in page
    assert '<tr><td><code>Zeros</code></td><td class="num">10</td><td class="num">0.693</td></tr>' in page
    assert '<td class="num">1,000</td><td class="num">-0.026</td>' in page
    assert "|---|" not in page
    assert "border" in page and "nth-child(even)" in page  # bordered, zebra rows


def test_paragraph_lines_are_joined_and_inline_markup_rendered(report_dir: Path) -> None:
    page = render(report_dir)
    # The link names a file in the report folder: it stays a relative link to that file, beside the page.
    assert ("<p>Intro line one continues <em>here</em> with <strong>bold</strong>, <code>a&lt;b</code> and a "
            '<a href="tables/cells.csv">table</a>.</p>') in page


def test_lists_and_code_blocks_are_escaped(report_dir: Path) -> None:
    page = render(report_dir)
    assert "<ul><li>first item</li><li>second &lt;item&gt;</li></ul>" in compact(page)
    assert "<pre><code>x = 1 &lt; 2\n</code></pre>" in page
    assert "<item>" not in page and "<draft>" not in page


def test_figure_caption_joins_image_and_following_caption(report_dir: Path) -> None:
    page = render(report_dir)
    figures = re.findall(r"<figure[ >](.*?)</figure>", page, re.DOTALL)
    assert len(figures) == 1
    assert 'alt="Input sequences"' in figures[0]
    assert "<figcaption><em>Figure 1. The first steps of each sequence.</em> " in figures[0]
    # An image without a "*Figure N." paragraph after it stays a plain image; the paragraph stays a paragraph.
    assert "<p>Plain paragraph after an image.</p>" in page
    assert page.count("<figcaption>") == 1


def test_escaping_of_text_and_attributes(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    page = render_page('a <script>alert(1)</script> & "q"\n\n![x" onerror="y](a.png)\n', base_dir=tmp_path,
                       title="t")
    assert "<script>" not in page
    assert "a &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;" in page
    assert 'alt="x&quot; onerror=&quot;y"' in page


def test_output_is_deterministic(report_dir: Path) -> None:
    first, second = render(report_dir), render(report_dir)
    assert first == second
    assert first.encode("utf-8") == second.encode("utf-8")


REPORTS = Path(__file__).resolve().parents[2] / "reports"


@pytest.fixture(scope="module")
def own_report() -> tuple[str, str]:
    """The project's committed reports/report.md and the page the current page.py makes of it (not the committed
    index.html, which is rewritten only when the report stage runs)."""
    markdown = REPORTS / "report.md"
    if not markdown.is_file():
        pytest.skip("reports/report.md has not been generated in this checkout")
    text = markdown.read_text()
    images = re.findall(r"^!\[[^\]]*\]\(([^)]+)\)", text, re.MULTILINE)
    if not all((REPORTS / image).is_file() for image in images):
        pytest.skip("the report's figures have not been generated in this checkout")
    links = re.findall(r"\]\(((?:figures|tables)/[^)]+)\)", text)
    if not all((REPORTS / link).is_file() for link in links):
        pytest.skip("files the report links have not been generated in this checkout")
    return text, render_page(text, base_dir=REPORTS, title="report")


def test_renders_the_projects_own_report(own_report: tuple[str, str]) -> None:
    """The Markdown the report stage writes is in the supported subset: every figure is embedded with its caption,
    every file it links is a relative link that resolves beside the page, and every in-page link reaches its
    heading (render_page raises otherwise)."""
    markdown, page = own_report
    images = re.findall(r"^!\[[^\]]*\]\(([^)]+)\)", markdown, re.MULTILINE)
    assert page.count('<img src="data:image/') == len(images)
    assert page.count("<figure ") == len(images)
    assert "<table>" in page
    assert page.count('<nav class="toc"') <= 1
    for href in re.findall(r'<a href="([^"#:]+)(?:#[^"]*)?"', page):
        assert (REPORTS / href).is_file(), f"{href} is not beside the page"
    assert "base64," not in re.sub(r'<img src="data:image/[^"]+"', "", page)  # nothing but images is embedded


def test_projects_own_report_is_within_the_page_budget(own_report: tuple[str, str]) -> None:
    """The committed report as a page: with its figures' data and print versions linked rather than embedded, and
    its PNGs embedded losslessly as WebP, it must stay under the budget (it was 6.08 MB with everything inline)."""
    _, page = own_report
    assert_within_budget(page, "reports/report.md rendered by the current page.py")


def large_report(tmp_path: Path, figures: int, data_bytes: int) -> str:
    """A report of `figures` figures, each a 900x600 plot with a CSV and an SVG of `data_bytes` bytes beside it."""
    (tmp_path / "figures").mkdir()
    parts = ["# A report with large figures"]
    for number in range(1, figures + 1):
        key = f"plot{number}"
        (tmp_path / "figures" / f"{key}.png").write_bytes(png_image(900, 600, seed=number))
        (tmp_path / "figures" / f"{key}.csv").write_bytes(b"step,value\n" + b"0,0.123456789\n" * (data_bytes // 14))
        (tmp_path / "figures" / f"{key}.svg").write_bytes(b"<svg>" + b"<path d='M0 0L1 1'/>" * (data_bytes // 20)
                                                         + b"</svg>")
        parts += [f"## Figure {number}", f"![{key}](figures/{key}.png)",
                  f"*Figure {number}. A plot. Data: [{key}.csv](figures/{key}.csv) · print version: "
                  f"[{key}.svg](figures/{key}.svg).*"]
    text = "\n\n".join(parts) + "\n"
    return text.replace("\n\n", "\n\n" + markdown_toc(text) + "\n", 1)


def test_page_with_large_figures_is_within_budget(tmp_path: Path) -> None:
    """Twelve figures with 2 MB of data and 2 MB of SVG each: the data and the print versions are linked beside the
    page, so the page weighs its PNGs and text only."""
    markdown = large_report(tmp_path, figures=12, data_bytes=2_000_000)
    page = render_page(markdown, base_dir=tmp_path, title="large")
    assert_within_budget(page, "a report with twelve large figures")
    pngs = sum(path.stat().st_size for path in (tmp_path / "figures").glob("*.png"))
    assert len(page.encode()) < pngs * 4 / 3 + 50_000, "something besides the images is embedded"
    assert page.count('.csv"') == 12 and page.count('.svg"') == 12


def test_page_budget_catches_a_heavy_page(tmp_path: Path) -> None:
    """Negative control: images that cannot be compressed (noise) past the budget fail the check."""
    import random

    from PIL import Image

    noise = random.Random(0).randbytes(700 * 700 * 3)
    Image.frombytes("RGB", (700, 700), noise).save(tmp_path / "noise.png")
    page = render_page("![noise](noise.png)\n", base_dir=tmp_path, title="heavy")
    assert len(page.encode()) > PAGE_BUDGET_BYTES
    with pytest.raises(AssertionError, match="budget"):
        assert_within_budget(page, "noise")


# --- The report's own raw HTML and conventions: table of contents, badges, collapsible sections, summary box,
# figures with a full-size view, links to each figure's data and print version.

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"><rect width="2" height="2"/></svg>'
RICH = """# Title

<div class="summary">

The effect **reproduces**: <span class="badge badge-holds">holds</span>.

Second paragraph.

</div>

- [Claims](#claims)
  - [Rules](#rules)
- [Figures](#figures)
- [Every cell](#every-cell)
- [Every cell](#every-cell-1)

## Claims

| # | claim | verdict |
|---|---|---|
| 1 | headline | <span class="badge badge-inconclusive">inconclusive</span> |
| 2 | mechanism | <span class="badge badge-not-tested">not tested</span> |

### Rules

Text.

## Figures

![inputs](figures/inputs.png)

*Figure 1. Inputs. Data: [inputs.csv](figures/inputs.csv) · print version: [inputs.svg](figures/inputs.svg).*

## Every cell

<details>
<summary>All cells of `grid` (2)</summary>

| cell | loss |
|---|---|
| `grid/SameDistRandom-Random-10` | 0.650 |

- a *list* item

</details>

## Every cell
"""


@pytest.fixture
def rich_dir(report_dir: Path) -> Path:
    (report_dir / "figures" / "inputs.csv").write_bytes(CELLS_CSV)
    (report_dir / "figures" / "inputs.svg").write_bytes(SVG)
    return report_dir


def ids(page: str) -> list[str]:
    return re.findall(r'\sid="([^"]+)"', page)


def toc(page: str) -> str:
    navs = re.findall(r'<nav class="toc"[^>]*>.*?</nav>', page, re.DOTALL)
    assert len(navs) == 1, navs
    return navs[0]


def test_toc_links_every_h2_and_h3_to_an_existing_anchor(rich_dir: Path) -> None:
    page = render(rich_dir, RICH)
    links = re.findall(r'href="#([^"]+)"', toc(page))
    assert links == ["claims", "rules", "figures", "every-cell", "every-cell-1"]
    assert set(links) <= set(ids(page))
    assert len(ids(page)) == len(set(ids(page))), "ids must be unique"
    # h3 nested under its h2, as the Markdown nests it.
    assert '<a href="#claims">Claims</a><ul><li><a href="#rules">Rules</a></li></ul></li>' in compact(toc(page))


def test_toc_stays_where_the_report_writes_it(rich_dir: Path) -> None:
    page = render(rich_dir, RICH)
    assert page.index('<div class="summary">') < page.index('<nav class="toc"') < page.index('<h2 id="claims">')


def test_page_builds_no_toc_of_its_own(tmp_path: Path) -> None:
    """The table of contents is the report's: the old `<!-- toc -->` line is a comment, and shows nothing."""
    page = render_page("# Title\n\n<!-- toc -->\n\nIntro.\n\n## One\n\n### One.a\n\n## Two\n", base_dir=tmp_path,
                       title="t")
    assert "<nav" not in page and "toc -->" not in page


def test_a_line_of_in_page_links_is_a_paragraph(tmp_path: Path) -> None:
    """The report may list its sections on one line; the links work, and the line stays a paragraph."""
    page = render_page("# T\n\n**In this report:** [1. The effect](#1-the-effect) · "
                       "[Appendix](#appendix-every-statistic)\n\n## 1. The effect\n\n## Appendix: every statistic\n",
                       base_dir=tmp_path, title="t")
    assert ('<p><strong>In this report:</strong> <a href="#1-the-effect">1. The effect</a> · '
            '<a href="#appendix-every-statistic">Appendix</a></p>') in page
    assert {"1-the-effect", "appendix-every-statistic"} <= set(ids(page)) and "<nav" not in page


MARKDOWN_TOC = """# Title

Intro.

- [1. The data](#1-the-data)
- [2. The mechanism](#2-the-mechanism)
  - [`SameRandom`, random states](#samerandom-random-states)
- [2. The mechanism](#2-the-mechanism-1)

## 1. The data

## 2. The mechanism

### `SameRandom`, random states

## 2. The mechanism

- [a list of links](#title) that says more than a link
- [is no table of contents](#1-the-data)
"""


def test_markdown_toc_is_the_pages_toc(tmp_path: Path) -> None:
    """The report's own table of contents, a Markdown list of in-page links, is set in a nav; its links reach the
    headings, whose ids are GitHub's."""
    page = render_page(MARKDOWN_TOC, base_dir=tmp_path, title="t")
    nav = toc(page)
    assert re.findall(r'href="#([^"]+)"', nav) == ["1-the-data", "2-the-mechanism", "samerandom-random-states",
                                                  "2-the-mechanism-1"]
    assert set(re.findall(r'href="#([^"]+)"', nav)) <= set(ids(page))
    assert '<a href="#samerandom-random-states"><code>SameRandom</code>, random states</a>' in nav
    assert "<ul><li><a" in compact(nav.split("2-the-mechanism\"", 1)[1])  # the h3 nested under its h2
    assert re.search(r"<p>Intro.</p>\s*<nav", page)
    # A list whose items say more than one link is content, not navigation.
    assert "that says more than a link</li>" in page.split("</nav>")[1]


def test_link_to_an_anchor_no_heading_has_raises(tmp_path: Path) -> None:
    """A table of contents whose slugs disagree with the headings fails the build instead of going nowhere."""
    with pytest.raises(ValueError, match="#the-mechanism"):
        render_page("- [1. Data](#1-data)\n- [2. The mechanism](#the-mechanism)\n\n## 1. Data\n\n"
                    "## 2. The mechanism\n", base_dir=tmp_path, title="t")


def test_markdown_toc_writes_githubs_links_that_the_page_resolves(tmp_path: Path) -> None:
    text = ("# Title\n\n<!-- toc -->\n\n## 2. The mechanism\n\n### `SameRandom`, random states\n\n#### Deep\n\n"
            "## See [the paper](https://example.com)\n\n## 2. The mechanism\n")
    listed = markdown_toc(text)
    assert listed == ("- [2. The mechanism](#2-the-mechanism)\n"
                      "  - [`SameRandom`, random states](#samerandom-random-states)\n"
                      "- [See the paper](#see-the-paper)\n"
                      "- [2. The mechanism](#2-the-mechanism-1)\n")
    page = render_page(text.replace("<!-- toc -->", listed), base_dir=tmp_path, title="t")
    assert page.count('<nav class="toc"') == 1
    assert set(re.findall(r'href="#([^"]+)"', toc(page))) <= set(ids(page))
    assert markdown_toc("# Only a title\n") == ""


@pytest.mark.parametrize("kind", ["holds", "fails", "inconclusive", "not-tested", "absent", "passes", "failed"])
def test_badges_pass_through_with_their_word(tmp_path: Path, kind: str) -> None:
    page = render_page(f'Verdict: <span class="badge badge-{kind}">{kind}</span>.\n', base_dir=tmp_path, title="t")
    assert f'<p>Verdict: <span class="badge badge-{kind}">{kind}</span>.</p>' in page
    assert f".badge-{kind}" in page  # styled


def test_badges_are_styled_for_dark_mode_and_print(tmp_path: Path) -> None:
    page = render_page("x\n", base_dir=tmp_path, title="t")
    assert "@media (prefers-color-scheme: dark)" in page and "print-color-adjust: exact" in page
    # Okabe-Ito blue and orange.
    assert "#0072b2" in page and "#e69f00" in page


@pytest.mark.parametrize("raw", [
    '<span class="badge badge-unknown">x</span>', '<span class="badge badge-holds" onclick="x()">x</span>',
    '<span style="color:red">x</span>', '<div class="summary" onmouseover="x()">x</div>', "<iframe src=x></iframe>",
])
def test_other_raw_html_is_escaped(tmp_path: Path, raw: str) -> None:
    page = render_page(f"Text {raw} end.\n\n{raw}\n", base_dir=tmp_path, title="t")
    body = page.split("<main>")[1]
    assert re.search(r"<(span|div|iframe)\b", body) is None, body
    assert body.count("&lt;") >= 2  # shown as text, where the reader (and the report's author) can see it
    # A closing tag whose opening was refused is escaped too, so no stray </span> or </div> closes the page's own.
    assert body.count("</span>") == 0 and body.count("</div>") == 0


def test_details_render_their_markdown(rich_dir: Path) -> None:
    page = compact(render(rich_dir, RICH))
    details = re.findall(r"<details>(.*?)</details>", page, re.DOTALL)
    assert len(details) == 1
    assert details[0].startswith("<summary>All cells of <code>grid</code> (2)</summary>")
    assert '<div class="table-wrap"><table>' in details[0]
    assert '<td><code>grid/SameDistRandom-Random-10</code></td><td class="num">0.650</td>' in details[0]
    assert "<ul><li>a <em>list</em> item</li></ul>" in details[0]


def test_details_open_attribute_is_kept(tmp_path: Path) -> None:
    page = render_page("<details open>\n<summary>S</summary>\n\nBody.\n\n</details>\n", base_dir=tmp_path, title="t")
    assert "<details open>\n<summary>S</summary>\n<p>Body.</p>\n</details>" in page


def test_closed_details_print_their_content(tmp_path: Path) -> None:
    page = render_page("x\n", base_dir=tmp_path, title="t")
    print_css = page[page.index("@media print"):]
    assert "details::details-content" in print_css and "content-visibility: visible" in print_css


def test_summary_box_renders_its_paragraphs(rich_dir: Path) -> None:
    page = compact(render(rich_dir, RICH))
    assert ('<h1 id="title">Title</h1><div class="summary"><p>The effect <strong>reproduces</strong>: '
            '<span class="badge badge-holds">holds</span>.</p><p>Second paragraph.</p></div>') in page
    assert ".summary {" in page


def test_figure_data_and_print_version_are_linked_beside_the_page(rich_dir: Path) -> None:
    """A figure's CSV and SVG are not embedded: the caption links the files that the report stage writes beside the
    page, so the page carries its PNGs and nothing else."""
    page = render(rich_dir, RICH)
    caption = re.findall(r"<figcaption>.*?</figcaption>", page, re.DOTALL)[0]
    assert '<a href="figures/inputs.csv">inputs.csv</a>' in caption
    assert '<a href="figures/inputs.svg">inputs.svg</a>' in caption
    assert "download=" not in page and "data:text" not in page and "data:image/svg" not in page
    assert CELLS_CSV.decode() not in page


def test_any_file_type_is_a_relative_link(tmp_path: Path) -> None:
    (tmp_path / "run.log").write_bytes(bytes([0, 1, 2]))
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "é x.csv").write_text("x\n")
    page = render_page("[log](run.log) [data](<figures/é x.csv>)\n", base_dir=tmp_path, title="t")
    assert '<a href="run.log">log</a>' in page
    assert '<a href="figures/%C3%A9%20x.csv">data</a>' in page  # percent-encoded as a URL; the file has the name


@pytest.fixture
def siblings(tmp_path: Path) -> Path:
    """A report folder with two sibling reports: `paper/` published with its HTML twin, `real/` with Markdown only."""
    for name in ("paper", "real"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.md").write_text(f"# {name}\n\n## Findings\n")
        (tmp_path / name / "README.md").write_text("readme\n")
    (tmp_path / "paper" / "index.html").write_text("<!DOCTYPE html>")
    return tmp_path


def test_sibling_reports_are_linked_to_their_page_where_it_exists(siblings: Path) -> None:
    page = render_page("See [`reports/paper/`](paper/report.md), [its findings](paper/report.md#findings), "
                       "[real](real/report.md) and [the readme](paper/README.md).\n", base_dir=siblings, title="t")
    assert '<a href="paper/index.html"><code>reports/paper/</code></a>' in page
    assert '<a href="paper/index.html#findings">its findings</a>' in page  # GitHub's slugs in both, so this works
    assert '<a href="real/report.md">real</a>' in page  # no HTML twin: the Markdown, which GitHub shows
    assert '<a href="paper/README.md">the readme</a>' in page  # only report.md has index.html for a twin
    assert "base64" not in page


def test_missing_link_target_raises_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="figures/absent.csv"):
        render_page("Data: [absent.csv](figures/absent.csv).\n", base_dir=tmp_path, title="t")


@pytest.mark.parametrize("target", ["../secret.csv", "figures/../../secret.csv", "/etc/passwd", "..", "\\\\x\\y.csv"])
def test_link_outside_the_report_folder_raises(tmp_path: Path, target: str) -> None:
    (tmp_path.parent / "secret.csv").write_text("x\n")
    with pytest.raises(ValueError):
        render_page(f"[x]({target})\n", base_dir=tmp_path, title="t")


@pytest.mark.parametrize("target", ["javascript:alert(1)", "data:text/html,x", "VBScript:x"])
def test_link_that_would_run_or_embed_raises(tmp_path: Path, target: str) -> None:
    with pytest.raises(ValueError):
        render_page(f"[x]({target})\n", base_dir=tmp_path, title="t")


def test_urls_and_anchors_stay_links(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n")
    page = render_page("## Claims\n\n[blog](https://example.com/post?a=1&b=2) [up](#claims) [top](#) "
                       "[mail](mailto:a@example.com) [inside](figures/../a.csv)\n", base_dir=tmp_path, title="t")
    assert '<a href="https://example.com/post?a=1&amp;b=2">blog</a>' in page
    assert '<a href="#claims">up</a>' in page and '<a href="mailto:a@example.com">mail</a>' in page
    assert '<a href="#">top</a>' in page
    assert '<a href="figures/../a.csv">inside</a>' in page  # ".." that stays inside the folder is fine


def test_figure_opens_full_size_without_a_second_copy(rich_dir: Path) -> None:
    page = render(rich_dir, RICH)
    figure = re.findall(r"<figure .*?</figure>", page, re.DOTALL)[0]
    assert figure.startswith('<figure id="figure-inputs">')
    # The full-size view is the same image restyled by :target, so the page carries each image once.
    assert figure.count("<img ") == 1 and page.count("<img ") == 1
    assert '<div class="figure-scroll" id="figure-inputs-full">' in figure
    assert '<a class="figure-open" href="#figure-inputs-full"' in figure
    assert '<a class="figure-close" href="#figure-inputs">Close</a>' in figure
    assert '<a class="full-size" href="#figure-inputs-full">Full size</a></figcaption>' in figure
    assert ".figure-scroll:target {" in page
    for href in re.findall(r'href="#([^"]+)"', page):
        assert href in ids(page), f"#{href} points nowhere"


def test_png_gets_its_size_and_wide_figures_keep_a_minimum_width(tmp_path: Path) -> None:
    import struct
    import zlib

    def png(width: int, height: int) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        rows = b"".join(b"\x00" + b"\xff" * width for _ in range(height))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))

    (tmp_path / "small.png").write_bytes(png(300, 200))
    (tmp_path / "wide.png").write_bytes(png(900, 400))
    page = render_page("![s](small.png)\n\n![w](wide.png)\n", base_dir=tmp_path, title="t")
    assert re.search(r'<img [^>]*alt="s" width="300" height="200">', page)
    assert re.search(r'<img [^>]*alt="w" width="900" height="400" class="wide">', page)
    assert ".figure-scroll img.wide { min-width: 540px; }" in page


def test_rich_output_is_deterministic(rich_dir: Path) -> None:
    assert render(rich_dir, RICH) == render(rich_dir, RICH)
