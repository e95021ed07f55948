"""Unit tests of stages.reporting.page.render_page: one self-contained, deterministic HTML page from the report's Markdown."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from stages.reporting.page import render_page

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


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_document_is_html5_with_inline_style_only(report_dir: Path) -> None:
    page = render(report_dir)
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert "<style>" in page and "max-width: 60rem" in page and "max-width: 100%" in page
    assert "<title>Report &lt;1&gt;</title>" in page
    # Nothing that would be fetched or run: no stylesheet links, scripts or web fonts.
    for forbidden in ("<link", "<script", "@import", "@font-face", "url("):
        assert forbidden not in page


def test_images_are_embedded_as_data_uris(report_dir: Path) -> None:
    page = render(report_dir)
    sources = re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)
    assert len(sources) == 2
    expected = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert sources == [expected, expected]
    assert 'src="http' not in page and 'src="figures/' not in page and 'src="//' not in page


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
    assert '<h1 id="study-draft-notes">Study &lt;draft&gt; &amp; notes</h1>' in page
    assert '<h2 id="results">Results</h2>' in page


def test_repeated_headings_get_distinct_anchors(tmp_path: Path) -> None:
    page = render_page("## Same\n\n## Same\n\n#### Deep\n", base_dir=tmp_path, title="t")
    assert re.findall(r'id="([^"]+)"', page) == ["same", "same-2", "deep"]
    assert "<h4" in page


def test_table_has_header_body_and_right_aligned_numbers(report_dir: Path) -> None:
    page = render(report_dir)
    assert "<thead><tr><th>data</th><th>bptt</th><th>loss</th></tr></thead>" in page
    assert '<tr><td><code>Zeros</code></td><td class="num">10</td><td class="num">0.693</td></tr>' in page
    assert '<td class="num">1,000</td><td class="num">-0.026</td>' in page
    assert "|---|" not in page
    assert "border" in page and "nth-child(even)" in page  # bordered, zebra rows


def test_paragraph_lines_are_joined_and_inline_markup_rendered(report_dir: Path) -> None:
    page = render(report_dir)
    # The link names a file in the report folder, so it is embedded as a download (see the download tests below).
    assert ("<p>Intro line one continues <em>here</em> with <strong>bold</strong>, <code>a&lt;b</code> and a "
            f'<a href="{data_uri("text/csv", CELLS_CSV)}" download="cells.csv">table</a>.</p>') in page


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


def test_renders_the_projects_own_report_if_present() -> None:
    """The Markdown the report stage writes is in the supported subset: every figure is embedded with its caption."""
    reports = Path(__file__).resolve().parents[2] / "reports"
    markdown = reports / "report.md"
    if not markdown.is_file():
        pytest.skip("reports/report.md has not been generated in this checkout")
    images = re.findall(r"^!\[[^\]]*\]\(([^)]+)\)", markdown.read_text(), re.MULTILINE)
    if not all((reports / image).is_file() for image in images):
        pytest.skip("the report's figures have not been generated in this checkout")
    links = re.findall(r"\]\(((?:figures|tables)/[^)]+)\)", markdown.read_text())
    if not all((reports / link).is_file() for link in links):
        pytest.skip("files the report links have not been generated in this checkout")
    page = render_page(markdown.read_text(), base_dir=reports, title="report")
    assert page.count('src="data:image/png;base64,') == len(images)
    assert page.count("<figure ") == len(images)
    assert "<table>" in page
    assert '<nav class="toc"' in page


# --- The report's own raw HTML and conventions: table of contents, badges, collapsible sections, summary box,
# figures with a full-size view, embedded downloads.

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"><rect width="2" height="2"/></svg>'
RICH = """# Title

<div class="summary">

The effect **reproduces**: <span class="badge badge-holds">holds</span>.

Second paragraph.

</div>

<!-- toc -->

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
    assert links == ["claims", "rules", "figures", "every-cell", "every-cell-2"]
    assert set(links) <= set(ids(page))
    assert len(ids(page)) == len(set(ids(page))), "ids must be unique"
    # h3 nested under its h2; the title (h1) is not listed.
    assert '<a href="#claims">Claims</a><ul><li><a href="#rules">Rules</a></li></ul></li>' in compact(toc(page))
    assert "#title" not in toc(page)


def test_toc_goes_where_the_marker_is(rich_dir: Path) -> None:
    page = render(rich_dir, RICH)
    assert page.index('<div class="summary">') < page.index('<nav class="toc"') < page.index('<h2 id="claims">')
    assert "toc -->" not in page


def test_toc_without_marker_follows_the_h1(tmp_path: Path) -> None:
    page = render_page("# Title\n\nIntro.\n\n## One\n\n### One.a\n\n## Two\n", base_dir=tmp_path, title="t")
    assert re.search(r'</h1>\s*<nav class="toc"', page)
    assert re.findall(r'href="#([^"]+)"', toc(page)) == ["one", "one-a", "two"]


def test_no_toc_without_sections(tmp_path: Path) -> None:
    page = render_page("# Title\n\n#### Deep\n\nText.\n", base_dir=tmp_path, title="t")
    assert '<nav class="toc"' not in page


def test_toc_label_keeps_code_but_not_links(tmp_path: Path) -> None:
    page = render_page("## The `SameRandom` [cell](https://example.com/x)\n", base_dir=tmp_path, title="t")
    assert "<code>SameRandom</code> cell</a>" in toc(page)
    assert "example.com" not in toc(page)


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


def test_relative_links_become_embedded_downloads(rich_dir: Path) -> None:
    page = render(rich_dir, RICH)
    downloads = dict((name, href) for href, name in re.findall(r'<a href="([^"]+)" download="([^"]+)">', page))
    assert set(downloads) == {"inputs.csv", "inputs.svg"}
    mime, payload = downloads["inputs.csv"].removeprefix("data:").split(";base64,")
    assert mime == "text/csv" and base64.b64decode(payload) == CELLS_CSV
    mime, payload = downloads["inputs.svg"].removeprefix("data:").split(";base64,")
    assert mime == "image/svg+xml" and base64.b64decode(payload) == SVG
    assert 'href="figures/' not in page


def test_unknown_file_type_downloads_as_octet_stream(tmp_path: Path) -> None:
    log = bytes([0, 1, 2])
    (tmp_path / "run.log").write_bytes(log)
    page = render_page("[log](run.log)\n", base_dir=tmp_path, title="t")
    assert f'<a href="{data_uri("application/octet-stream", log)}" download="run.log">log</a>' in page


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
    page = render_page("[blog](https://example.com/post?a=1&b=2) [up](#claims) [mail](mailto:a@example.com) "
                       "[inside](figures/../a.csv)\n", base_dir=tmp_path, title="t")
    assert '<a href="https://example.com/post?a=1&amp;b=2">blog</a>' in page
    assert '<a href="#claims">up</a>' in page and '<a href="mailto:a@example.com">mail</a>' in page
    assert 'download="a.csv">inside</a>' in page  # ".." that stays inside the folder is fine


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
