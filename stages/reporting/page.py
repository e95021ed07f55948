"""Render the report's Markdown as one self-contained HTML5 page.

The Markdown is CommonMark with pipe tables (markdown-it-py's "commonmark" preset, tables enabled), plus a little raw
HTML that the report writes and nothing else (any other tag is shown as text, escaped):

- `<!-- toc -->` on a line of its own: the table of contents (h2 and h3) goes there; without it, right after the h1.
- `<div class="summary">` ... `</div>`: a highlighted box; `<details>` / `<details open>` with `<summary>...</summary>`
  ... `</details>`: a collapsible section; `<span class="badge badge-KIND">word</span>`: a verdict badge. Markdown
  inside a div or details block renders when it is separated from the tags by blank lines.
- An image alone in a paragraph, followed by a paragraph that starts `*Figure N.`, becomes a <figure> with that
  caption. Clicking the figure opens it at its natural size in a CSS-only `:target` overlay (the page runs no script:
  its Content-Security-Policy forbids it, and nothing here needs one).
- A link to a relative path under the report folder (`figures/key.csv`) becomes an embedded download: a data: URI
  with a `download` name, so the single file carries the data behind each figure. Links with a scheme stay as written.

Every image and linked file is embedded as a base64 data URI, so the page can be published as a single file that
never fetches anything; the output depends only on the arguments, so the same report gives the same bytes.

Phones: tables and wide figures sit in horizontal scroll containers, with CSS scroll shadows as the hint that more is
to the side. Table cells keep words whole on screen (a long name wraps at its own hyphens and slashes, or makes its
column wider inside the scroller); a figure keeps a readable minimum width there rather than shrinking to the
screen, and its full-size view is one tap away. Printing: scroll containers open up, tables take the page width in a
smaller font with cells that may wrap anywhere (no table is cut off, at the price of split words in the widest
ones), the overlay and its links are hidden, and no URL is printed after links. Closed <details> would not print
their content: the print style opens them through `details::details-content` (Chromium 131+, Firefox 143+, Safari
18.4+), because the page has no script to set `open` on `beforeprint` and an always-open section would not be
collapsible; an older browser prints the summary line only. Dark mode follows `prefers-color-scheme`; images keep a
white backing there, since the figures are drawn on white.
"""

from __future__ import annotations

import base64
import html
import posixpath
import re
import struct
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["render_page", "BADGE_KINDS"]

BADGE_KINDS = ("holds", "fails", "inconclusive", "not-tested", "absent", "passes", "failed")

# A figure at least this wide (natural pixels) keeps this width on a narrow screen and scrolls sideways, instead of
# shrinking until its labels cannot be read.
FIGURE_MIN_PX = 540

# Inline only: a page that links a stylesheet or a web font would fetch when opened, and break when moved.
# Badge colours are from the Okabe-Ito palette (blue / orange / grey), told apart by colour-blind readers and in
# greyscale, and every badge also says its word.
STYLE = """
:root { color-scheme: light dark;
  --bg: #fff; --fg: #1d1d1f; --muted: #4f5056; --rule: #d3d5db; --link: #0b57d0;
  --code-bg: #f0f1f4; --pre-bg: #f6f8fa; --pre-border: #e1e4e8;
  --th-bg: rgba(110, 120, 140, 0.16); --zebra: rgba(110, 120, 140, 0.07); --shade: rgba(0, 0, 0, 0.28);
  --box-bg: #eaf3fa; --box-edge: #0072b2; --grey-bg: #e4e5e8; --grey-edge: #8c8e94; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #141518; --fg: #e7e7ea; --muted: #b3b5bc; --rule: #3b3d43; --link: #8ab4f8;
    --code-bg: #25272c; --pre-bg: #1b1d21; --pre-border: #33363c;
    --th-bg: rgba(170, 180, 200, 0.17); --zebra: rgba(170, 180, 200, 0.06); --shade: rgba(0, 0, 0, 0.75);
    --box-bg: #15293a; --box-edge: #56b4e9; --grey-bg: #3a3c42; --grey-edge: #8c8e94; }
}
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; overflow-wrap: break-word; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.8em 0 0.6em; }
h1 { font-size: 1.9rem; margin-top: 0.5em; }
h2 { font-size: 1.45rem; border-bottom: 1px solid var(--rule); padding-bottom: 0.2em; }
h3 { font-size: 1.2rem; }
h4 { font-size: 1.05rem; }
a { color: var(--link); }
code { font: 0.9em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--code-bg); padding: 0.1em 0.3em; border-radius: 3px; }
pre { background: var(--pre-bg); border: 1px solid var(--pre-border); border-radius: 4px; padding: 0.8em 1em;
  overflow-x: auto; }
pre code { background: none; padding: 0; }
img { max-width: 100%; height: auto; background: #fff; }
.summary { background: var(--box-bg); border-left: 4px solid var(--box-edge); border-radius: 6px;
  padding: 0.2em 1.1em; margin: 1.2em 0; }
nav.toc { border: 1px solid var(--rule); border-radius: 6px; padding: 0.6em 1.1em; margin: 1.5em 0;
  font-size: 0.95em; }
.toc-title { font-weight: 600; margin: 0 0 0.3em; }
nav.toc ul { list-style: none; margin: 0; padding: 0; }
nav.toc > ul { columns: 2 19rem; column-gap: 2rem; }
nav.toc li { break-inside: avoid; margin: 0.15em 0; }
nav.toc ul ul { padding-left: 1.1em; font-size: 0.95em; }
details { border: 1px solid var(--rule); border-radius: 6px; padding: 0 1em; margin: 1em 0; }
summary { cursor: pointer; font-weight: 600; padding: 0.55em 0; }
details[open] > summary { border-bottom: 1px solid var(--rule); margin-bottom: 0.4em; }
.badge { display: inline-block; padding: 0 0.55em; border: 1px solid transparent; border-radius: 999px;
  font-size: 0.8em; font-weight: 600; line-height: 1.55; white-space: nowrap; vertical-align: 0.05em;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.badge-holds, .badge-passes { background: #0072b2; color: #fff; }
.badge-fails, .badge-failed { background: #e69f00; color: #1a1a1a; }
.badge-inconclusive { background: var(--grey-bg); color: var(--fg); border-color: var(--grey-edge); }
.badge-not-tested, .badge-absent { background: transparent; color: var(--muted); border: 1px dashed var(--grey-edge); }
.table-wrap, .figure-scroll { overflow-x: auto;
  background: linear-gradient(to right, var(--bg) 30%, transparent) left / 2.5rem 100% no-repeat local,
    linear-gradient(to left, var(--bg) 30%, transparent) right / 2.5rem 100% no-repeat local,
    radial-gradient(farthest-side at 0 50%, var(--shade), transparent) left / 0.8rem 100% no-repeat scroll,
    radial-gradient(farthest-side at 100% 50%, var(--shade), transparent) right / 0.8rem 100% no-repeat scroll; }
.table-wrap { margin: 1em 0; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid var(--rule); padding: 0.3em 0.6em; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
th { background: var(--th-bg); }
tbody tr:nth-child(even) { background: var(--zebra); }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.align-right { text-align: right; }
.align-center { text-align: center; }
figure { margin: 1.5em 0; }
figure img { display: block; margin: 0 auto; }
.figure-scroll img.wide { min-width: FIGURE_MIN_PXpx; }
.figure-open { cursor: zoom-in; }
.figure-close { display: none; }
.figure-scroll:target { position: fixed; inset: 0; z-index: 10; margin: 0; padding: 3.2rem 1rem 1rem;
  overflow: auto; background: rgba(0, 0, 0, 0.94); }
.figure-scroll:target img, .figure-scroll:target img.wide { max-width: none; min-width: 0; width: auto; }
.figure-scroll:target .figure-open { cursor: default; }
.figure-scroll:target .figure-close { display: block; position: fixed; top: 0.6rem; right: 1rem; z-index: 11;
  padding: 0.3em 0.9em; border-radius: 999px; background: #fff; color: #1a1a1a; font-weight: 600;
  text-decoration: none; }
figcaption { font-size: 0.92em; color: var(--muted); margin-top: 0.5em; }
.full-size { white-space: nowrap; }
@media print {
  :root { color-scheme: light; --bg: #fff; --fg: #000; --muted: #333; --rule: #999; --link: #000;
    --code-bg: transparent; --pre-bg: transparent; --th-bg: #e6e6e6; --zebra: transparent; --box-bg: #f2f2f2;
    --box-edge: #555; --grey-bg: #e6e6e6; }
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  a { text-decoration: none; }
  a[href]::after { content: none; }
  .table-wrap, .figure-scroll, pre { overflow: visible; background: none; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; }
  table { width: 100%; font-size: 8pt; }
  th, td { padding: 0.15em 0.3em; overflow-wrap: anywhere; }
  .figure-scroll img.wide { min-width: 0; }
  .figure-scroll:target { position: static; padding: 0; background: none; overflow: visible; }
  .figure-scroll:target img { max-width: 100%; }
  .figure-close, .full-size { display: none !important; }
  figure, tr, .summary { break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; }
  details { border: none; padding: 0; }
  summary { list-style: none; }
  summary::-webkit-details-marker { display: none; }
}
@media print {
  details::details-content { content-visibility: visible; display: block; }
}
""".strip().replace("FIGURE_MIN_PX", str(FIGURE_MIN_PX))

# A cell that is a plain number (thousands separators, sign, percent, trailing "x" as in "1.00x") reads best
# right-aligned so that digits line up down the column.
_NUMERIC = re.compile(r"^[-+−]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?(e[-+]?\d+)?%?x?$", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_IMAGE_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp"}
# Fixed here rather than asked of `mimetypes`, whose answers depend on the machine's /etc/mime.types.
_DOWNLOAD_MIME = {**_IMAGE_MIME, ".csv": "text/csv", ".tsv": "text/tab-separated-values", ".json": "application/json",
                  ".txt": "text/plain", ".md": "text/markdown", ".yaml": "application/yaml",
                  ".yml": "application/yaml", ".pdf": "application/pdf", ".html": "text/html"}
_CAPTION = re.compile(r"^\*Figure \d+\.")
_TOC_MARKER = re.compile(r"<!--\s*toc\s*-->", re.IGNORECASE)
# One raw HTML tag or comment; attributes are parsed by _ATTRIBUTE.
_TAG = re.compile(r"<!--.*?-->|<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^\s\"'<>/=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'"
                  r"|[^\s\"'=<>`]+))?)*)\s*/?>", re.DOTALL)
_ATTRIBUTE = re.compile(r"([^\s\"'<>/=]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?")
# The raw HTML the page lets through, as tag -> the attribute sets allowed on it; anything else is escaped.
_ALLOWED_TAGS: dict[str, list[dict[str, str]]] = {
    "details": [{}, {"open": ""}],
    "summary": [{}],
    "div": [{"class": "summary"}],
    "span": [{"class": f"badge badge-{kind}"} for kind in BADGE_KINDS],
    "br": [{}],
}


@dataclass(frozen=True)
class Heading:
    """A heading the table of contents lists."""

    level: int
    anchor: str
    label_html: str


def _is_url(target: str) -> bool:
    return _SCHEME.match(target) is not None or target.startswith("//")


def _local_file(target: str, base_dir: Path, what: str) -> Path:
    """The file a relative `target` names under base_dir; refuse absolute paths and paths that climb out of it."""
    # markdown-it percent-encodes targets (figures/é.csv -> figures/%C3%A9.csv); the file has the decoded name.
    path_text = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if PurePosixPath(path_text).is_absolute() or Path(path_text).is_absolute() or path_text.startswith("\\"):
        raise ValueError(f"{what} {path_text!r} is an absolute path; only relative paths can be embedded")
    # Lexical, not resolve(): a report folder whose files are symlinks into DVC's cache must still be accepted.
    normal = posixpath.normpath(path_text.replace("\\", "/"))
    if normal == ".." or normal.startswith("../"):
        raise ValueError(f"{what} {path_text!r} leaves the report folder {base_dir}")
    path = base_dir / normal
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path_text!r} not found at {path}")
    return path


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _image_path(target: str, base_dir: Path) -> Path:
    """The image at `target` (relative to base_dir); refuse anything the browser would fetch."""
    if _is_url(target):
        # http:, https:, file:, data: ... : the page must hold its own bytes, and a URL would be fetched.
        raise ValueError(f"image {target!r} is a URL; only relative paths under the report folder can be embedded")
    path = _local_file(target, base_dir, "image")
    if path.suffix.lower() not in _IMAGE_MIME:
        raise ValueError(f"image {target!r} has an unsupported type {path.suffix!r} "
                         f"(expected one of {sorted(_IMAGE_MIME)})")
    return path


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk, or None for anything else."""
    if len(data) < 24 or not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _img_html(token: Token, base_dir: Path, renderer) -> str:
    path = _image_path(str(token.attrGet("src") or ""), base_dir)
    alt = renderer.renderInlineAsText(token.children or [], {}, {})
    attributes = f' alt="{html.escape(alt)}"'
    title = token.attrGet("title")
    if title:
        attributes += f' title="{html.escape(str(title))}"'
    data = path.read_bytes()
    size = _png_size(data)
    if size is not None:
        # Known dimensions reserve the space before decoding, so jumping to an anchor lands where it should.
        attributes += f' width="{size[0]}" height="{size[1]}"'
        if size[0] >= FIGURE_MIN_PX:
            attributes += ' class="wide"'
    return f'<img src="{_data_uri(data, _IMAGE_MIME[path.suffix.lower()])}"{attributes}>'


def _link_open_html(token: Token, base_dir: Path) -> str:
    """A link: kept when it is a URL or an in-page anchor, an embedded download when it names a file here."""
    href = str(token.attrGet("href") or "")
    title = token.attrGet("title")
    title_attribute = f' title="{html.escape(str(title))}"' if title else ""
    if re.match(r"^\s*(javascript|vbscript|data):", href, re.IGNORECASE):
        raise ValueError(f"link {href!r} uses a scheme that would run or embed content")
    if _is_url(href) or href.startswith("#") or not href:
        # Only followed on a click, never fetched when the page loads, so the CSP need not allow it.
        return f'<a href="{html.escape(href)}"{title_attribute}>'
    path = _local_file(href, base_dir, "link")
    mime = _DOWNLOAD_MIME.get(path.suffix.lower(), "application/octet-stream")
    return f'<a href="{_data_uri(path.read_bytes(), mime)}" download="{html.escape(path.name)}"{title_attribute}>'


def _canonical_tag(raw: str) -> tuple[str, bool, str] | None:
    """(name, closing, canonical HTML) for a tag the page lets through, ("", False, "") for a comment, else None."""
    match = _TAG.fullmatch(raw.strip())
    if match is None:
        return None
    if raw.strip().startswith("<!--"):
        return "", False, ""  # an author's note, not content
    closing, name, attribute_text = bool(match.group(1)), match.group(2).lower(), match.group(3)
    if name not in _ALLOWED_TAGS:
        return None
    if closing:
        return (name, True, f"</{name}>") if not attribute_text.strip() and name != "br" else None
    attributes = {m.group(1).lower(): next((g for g in m.groups()[1:] if g is not None), "")
                  for m in _ATTRIBUTE.finditer(attribute_text)}
    if attributes not in _ALLOWED_TAGS[name]:
        return None
    # Rebuilt from the parsed attributes, so nothing the allowlist did not see (an onclick, a style) gets through.
    text = "".join(f' {key}="{html.escape(value)}"' if value else f" {key}" for key, value in attributes.items())
    return name, False, f"<{name}{text}>"


class _RawHtml:
    """The raw HTML filter of one page: allowed tags pass, a closing tag only after its opening one; the rest is
    escaped, so it shows as text and a typo in the report is seen rather than silently dropped."""

    def __init__(self) -> None:
        self.open_tags: dict[str, int] = {}

    def tag(self, raw: str) -> str:
        canonical = _canonical_tag(raw)
        if canonical is None:
            return html.escape(raw)
        name, closing, text = canonical
        if name == "br" or not name:
            return text
        if closing:
            if not self.open_tags.get(name):
                return html.escape(raw)  # its opening tag was escaped, or never written
            self.open_tags[name] -= 1
        else:
            self.open_tags[name] = self.open_tags.get(name, 0) + 1
        return text

    def block(self, content: str, render_inline) -> str:
        """A raw HTML block: its tags filtered, the text between them rendered as inline Markdown."""
        out: list[str] = []
        position = 0
        for match in _TAG.finditer(content):
            out.append(_text_html(content[position:match.start()], render_inline))
            out.append(self.tag(match.group(0)))
            position = match.end()
        out.append(_text_html(content[position:], render_inline))
        return "".join(out)


def _text_html(text: str, render_inline) -> str:
    return render_inline(text) if text.strip() else text


def _slug(text: str, used: dict[str, int]) -> str:
    """A stable id from a heading's text, made unique by a numeric suffix (same text twice → -2)."""
    plain = re.sub(r"[`*_\[\]()!]", "", text).lower()
    slug = re.sub(r"[^\w]+", "-", plain, flags=re.ASCII).strip("-") or "section"
    count = used.get(slug, 0)
    used[slug] = count + 1
    return slug if count == 0 else f"{slug}-{count + 1}"


def _label_html(inline: Token, renderer, options, env) -> str:
    # A heading's text for the table of contents; its own links are dropped, since a link cannot hold another.
    children = [child for child in inline.children or [] if child.type not in ("link_open", "link_close")]
    return renderer.renderInline(children, options, env)


def _anchor_headings(tokens: list[Token], used: dict[str, int], renderer, options, env) -> list[Heading]:
    """Give every heading a unique id (before figures take theirs, so heading anchors never shift)."""
    headings = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            anchor = _slug(tokens[index + 1].content, used)
            token.attrSet("id", anchor)
            headings.append(Heading(int(token.tag[1]), anchor, _label_html(tokens[index + 1], renderer, options, env)))
    return headings


def _only_image(inline: Token) -> Token | None:
    children = [child for child in inline.children or [] if not (child.type == "text" and not child.content.strip())]
    return children[0] if len(children) == 1 and children[0].type == "image" else None


def _group_figures(tokens: list[Token], used: dict[str, int]) -> list[Token]:
    """An image paragraph followed by a "*Figure N." paragraph becomes figure_open, the caption inline, figure_close."""
    out: list[Token] = []
    index = 0
    while index < len(tokens):
        window = tokens[index:index + 6]
        types = [token.type for token in window]
        if (types == ["paragraph_open", "inline", "paragraph_close"] * 2 and _only_image(window[1]) is not None
                and _CAPTION.match(window[4].content)):
            image = _only_image(window[1])
            stem = PurePosixPath(unquote(str(image.attrGet("src") or ""))).stem
            anchor = _slug(f"figure-{stem}", used)
            opening = Token("figure_open", "figure", 1, meta={"image": image, "anchor": anchor})
            closing = Token("figure_close", "figure", -1, meta={"anchor": anchor})
            out += [opening, window[4], closing]
            index += 6
        else:
            out.append(tokens[index])
            index += 1
    return out


def _toc_token(headings: list[Heading]) -> Token:
    return Token("toc", "nav", 0, meta={"headings": [h for h in headings if h.level in (2, 3)]})


def _place_toc(tokens: list[Token], headings: list[Heading]) -> list[Token]:
    """The table of contents at the `<!-- toc -->` line, else right after the h1, else first."""
    markers = [i for i, t in enumerate(tokens) if t.type == "html_block" and _TOC_MARKER.fullmatch(t.content.strip())]
    if markers:
        return [_toc_token(headings) if i == markers[0] else t for i, t in enumerate(tokens) if i not in markers[1:]]
    after_h1 = next((i + 3 for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h1"), 0)
    return tokens[:after_h1] + [_toc_token(headings)] + tokens[after_h1:]


def _toc_html(headings: list[Heading]) -> str:
    """A nav listing the h2 headings, each with its h3 headings nested under it."""
    sections: list[tuple[Heading, list[Heading]]] = []
    for heading in headings:
        if heading.level == 3 and sections:
            sections[-1][1].append(heading)
        else:
            sections.append((heading, []))
    if not sections:
        return ""

    def item(heading: Heading, nested: str = "") -> str:
        return f'<li><a href="#{heading.anchor}">{heading.label_html}</a>{nested}</li>'

    lines = ['<nav class="toc" aria-label="Contents">', '<p class="toc-title">Contents</p>', "<ul>"]
    for heading, subsections in sections:
        nested = "<ul>" + "".join(item(sub) for sub in subsections) + "</ul>" if subsections else ""
        lines.append(item(heading, nested))
    lines += ["</ul>", "</nav>", ""]
    return "\n".join(lines)


def _table_token_html(token: Token, next_token: Token | None) -> str:
    """Table tags written compactly; cells carry classes (numbers right-aligned), never inline style."""
    if token.type == "table_open":
        return '<div class="table-wrap"><table>'
    if token.type == "table_close":
        return "</table></div>\n"
    if token.nesting == -1:
        return f"</{token.tag}>"
    classes = []
    align = re.search(r"text-align:\s*(left|right|center)", str(token.attrGet("style") or ""))
    if align and align.group(1) != "left":
        classes.append(f"align-{align.group(1)}")
    if token.type == "td_open" and next_token is not None and next_token.type == "inline":
        cell = next_token.content.strip()
        if any(ch.isdigit() for ch in cell) and _NUMERIC.match(cell):
            classes = ["num"]
    attribute = f' class="{" ".join(classes)}"' if classes else ""
    return f"<{token.tag}{attribute}>"


def _markdown(base_dir: Path) -> MarkdownIt:
    """CommonMark with tables and raw HTML, its output rules bound to the files under base_dir."""
    md = MarkdownIt("commonmark", {"html": True, "xhtmlOut": False}).enable("table")
    # Every link and image is checked by the rules below, which raise on what must not be in the page; markdown-it's
    # own check would instead leave `![x](file:///...)` as text and hide the mistake.
    md.validateLink = lambda url: True
    raw_html = _RawHtml()

    def render_inline(text: str) -> str:
        return md.renderInline(text)

    def image(self, tokens, index, options, env) -> str:
        return _img_html(tokens[index], base_dir, self)

    def link_open(self, tokens, index, options, env) -> str:
        return _link_open_html(tokens[index], base_dir)

    def html_inline(self, tokens, index, options, env) -> str:
        return raw_html.tag(tokens[index].content)

    def html_block(self, tokens, index, options, env) -> str:
        return raw_html.block(tokens[index].content, render_inline)

    def softbreak(self, tokens, index, options, env) -> str:
        return " "  # a line break inside a paragraph is a space; the page's HTML reads the same either way

    def table_part(self, tokens, index, options, env) -> str:
        return _table_token_html(tokens[index], tokens[index + 1] if index + 1 < len(tokens) else None)

    def figure_open(self, tokens, index, options, env) -> str:
        meta = tokens[index].meta
        img = _img_html(meta["image"], base_dir, self)
        anchor = meta["anchor"]
        return (f'<figure id="{anchor}">\n<div class="figure-scroll" id="{anchor}-full">'
                f'<a class="figure-close" href="#{anchor}">Close</a>'
                f'<a class="figure-open" href="#{anchor}-full" title="Open at full size">{img}</a></div>\n'
                "<figcaption>")

    def figure_close(self, tokens, index, options, env) -> str:
        anchor = tokens[index].meta["anchor"]
        return f' <a class="full-size" href="#{anchor}-full">Full size</a></figcaption>\n</figure>\n'

    def toc(self, tokens, index, options, env) -> str:
        return _toc_html(tokens[index].meta["headings"])

    rules = {"image": image, "link_open": link_open, "html_inline": html_inline, "html_block": html_block,
             "softbreak": softbreak, "figure_open": figure_open, "figure_close": figure_close, "toc": toc}
    for part in ("table", "thead", "tbody", "tr", "th", "td"):
        rules[f"{part}_open"] = rules[f"{part}_close"] = table_part
    for name, rule in rules.items():
        md.add_render_rule(name, rule)
    return md


def _body_html(markdown_text: str, base_dir: Path) -> str:
    md = _markdown(base_dir)
    env: dict = {}
    tokens = md.parse(markdown_text, env)
    used_ids: dict[str, int] = {}
    headings = _anchor_headings(tokens, used_ids, md.renderer, md.options, env)
    tokens = _place_toc(_group_figures(tokens, used_ids), headings)
    return md.renderer.render(tokens, md.options, env)


def render_page(markdown_text: str, *, base_dir: Path, title: str) -> str:
    """One self-contained HTML5 document for `markdown_text`, images and linked files read from `base_dir` and embedded.

    Raises FileNotFoundError for an image or linked file that is missing under base_dir, and ValueError for an image
    given as a URL, for an absolute path, for a path that leaves base_dir, and for a javascript:, vbscript: or data:
    link. The output depends only on the arguments (no timestamps), so the same report gives the same bytes.
    """
    base_dir = Path(base_dir)
    body = _body_html(markdown_text, base_dir)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No network at all, even if a later edit slips a remote URL in: the browser refuses everything but data:.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">\n"
        f"<title>{html.escape(title)}</title>\n"
        f"<style>\n{STYLE}\n</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
