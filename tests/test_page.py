"""Unit tests of stages.page.render_page: one self-contained, deterministic HTML page from the report's Markdown."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from stages.page import render_page

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


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "inputs.png").write_bytes(PNG)
    (tmp_path / "figures" / "gap.png").write_bytes(PNG)
    return tmp_path


def render(report_dir: Path, text: str = REPORT) -> str:
    return render_page(text, base_dir=report_dir, title="Report <1>")


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
    assert ("<p>Intro line one continues <em>here</em> with <strong>bold</strong>, <code>a&lt;b</code> and a "
            '<a href="tables/cells.csv">table</a>.</p>') in page


def test_lists_and_code_blocks_are_escaped(report_dir: Path) -> None:
    page = render(report_dir)
    assert "<ul><li>first item</li><li>second &lt;item&gt;</li></ul>" in page
    assert "<pre><code>x = 1 &lt; 2</code></pre>" in page
    assert "<item>" not in page and "<draft>" not in page


def test_figure_caption_joins_image_and_following_caption(report_dir: Path) -> None:
    page = render(report_dir)
    figures = re.findall(r"<figure>(.*?)</figure>", page, re.DOTALL)
    assert len(figures) == 1
    assert 'alt="Input sequences"' in figures[0]
    assert "<figcaption><em>Figure 1. The first steps of each sequence.</em></figcaption>" in figures[0]
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
    reports = Path(__file__).resolve().parents[1] / "reports"
    markdown = reports / "report.md"
    if not markdown.is_file():
        pytest.skip("reports/report.md has not been generated in this checkout")
    images = re.findall(r"^!\[[^\]]*\]\(([^)]+)\)", markdown.read_text(), re.MULTILINE)
    if not all((reports / image).is_file() for image in images):
        pytest.skip("the report's figures have not been generated in this checkout")
    page = render_page(markdown.read_text(), base_dir=reports, title="report")
    assert page.count('src="data:image/png;base64,') == len(images)
    assert page.count("<figure>") == len(images)
    assert "<table>" in page
