"""Render the report's Markdown as one self-contained HTML5 page, to be saved as index.html beside report.md.

The Markdown is CommonMark with pipe tables (markdown-it-py's "commonmark" preset, tables enabled), plus a little raw
HTML that the report writes and nothing else (any other tag is shown as text, escaped):

- `<div class="summary">` ... `</div>`: a highlighted box; `<details>` / `<details open>` with `<summary>...</summary>`
  ... `</details>`: a collapsible section; `<span class="badge badge-KIND">word</span>`: a verdict badge. Markdown
  inside a div or details block renders when it is separated from the tags by blank lines.
- An image alone in a paragraph, followed by a paragraph that starts `*Figure N.`, becomes a <figure> with that
  caption. Clicking the figure opens it at its natural size in a CSS-only `:target` overlay (the page runs no script:
  its Content-Security-Policy forbids it, and nothing here needs one).

Headings get the ids GitHub gives them (`slug`), so the report's own table of contents, Markdown links to `#slug`,
works in report.md on GitHub or in any Markdown viewer and in the page alike; the page builds none of its own (an
old `<!-- toc -->` line is a comment and shows nothing). A list made of nothing but in-page links, `- [Heading](#slug)`
(nested for subsections; `markdown_toc` writes one), is set in a `<nav class="toc">`; a line of such links is an
ordinary paragraph. A link to an id that no heading or figure has is an error, so a table of contents whose slugs
disagree with the headings fails the build instead of going nowhere.

Images are embedded as base64 data URIs, so the page never fetches anything; a PNG goes in as lossless WebP when that
is smaller (the same pixels at about half the bytes: the report's figures are what makes the page heavy). Links to
files are not embedded: a relative link (`figures/key.csv`, `figures/key.svg`) stays a relative link to the file
beside the page, which must exist under base_dir, and a link to a sibling report's `report.md` points to its HTML
twin `index.html` where that exists beside it. The page is thus one file to open, but it is published with its
folder. The output depends only on the arguments and the installed libraries (no timestamps), so the same report
gives the same bytes.

The style sheet is templates/page.css, inlined. Phones: tables and wide figures sit in horizontal scroll containers,
with CSS scroll shadows as the hint that more is to the side. Table cells keep words whole on screen (a long name
wraps at its own hyphens and slashes, or makes its column wider inside the scroller); a figure keeps a readable
minimum width there rather than shrinking to the screen, and its full-size view is one tap away. Printing: scroll
containers open up, tables take the page width in a smaller font with cells that may wrap anywhere (no table is cut
off, at the price of split words in the widest ones), the overlay and its links are hidden, and no URL is printed
after links. Closed <details> would not print their content: the print style opens them through
`details::details-content` (Chromium 131+, Firefox 143+, Safari 18.4+), because the page has no script to set `open`
on `beforeprint` and an always-open section would not be collapsible; an older browser prints the summary line only.
Dark mode follows `prefers-color-scheme`; images keep a white backing there, since the figures are drawn on white.
"""

from __future__ import annotations

import base64
import html
import io
import posixpath
import re
import struct
import unicodedata
from importlib import resources
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["render_page", "slug", "heading_text", "markdown_toc", "BADGE_KINDS", "FIGURE_MIN_PX"]

BADGE_KINDS = ("holds", "fails", "inconclusive", "not-tested", "absent", "passes", "failed")

# A figure at least this wide (natural pixels) keeps this width on a narrow screen and scrolls sideways, instead of
# shrinking until its labels cannot be read (page.css says the same number).
FIGURE_MIN_PX = 540

# The style sheet, inlined into the page: a page that linked one would fetch when opened, and break when moved.
STYLE = resources.files(__package__).joinpath("templates").joinpath("page.css").read_text(encoding="utf-8").strip()
if "</style" in STYLE.lower():
    raise ValueError("templates/page.css must not contain '</style', which would end the page's style element")

# A cell that is a plain number (thousands separators, sign, percent, trailing "x" as in "1.00x") reads best
# right-aligned so that digits line up down the column.
_NUMERIC = re.compile(r"^[-+−]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?(e[-+]?\d+)?%?x?$", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_IMAGE_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp"}
_CAPTION = re.compile(r"^\*Figure \d+\.")
# A report's HTML twin: a link to `<folder>/report.md` goes to `<folder>/index.html` where that exists.
_MARKDOWN_REPORT, _HTML_REPORT = "report.md", "index.html"
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
# GitHub's heading anchors keep letters (L*), marks (M*), decimal and letter numbers, connector punctuation such as
# "_", hyphens and spaces (Ruby's /[^\p{Word}\- ]/, as in github-slugger); everything else goes.
_SLUG_KEPT_CATEGORIES = ("Nd", "Nl", "Pc")


def _is_url(target: str) -> bool:
    return _SCHEME.match(target) is not None or target.startswith("//")


def _local_file(target: str, base_dir: Path, what: str, sibling: bool = False) -> Path:
    """The file a relative `target` names under base_dir; refuse absolute paths and paths that climb out of it. With
    `sibling`, one step up is allowed: a profile's report, published in reports/<profile>/, links the reports beside
    it (../supplement/report.md)."""
    # markdown-it percent-encodes targets (figures/é.csv -> figures/%C3%A9.csv); the file has the decoded name.
    path_text = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if PurePosixPath(path_text).is_absolute() or Path(path_text).is_absolute() or path_text.startswith("\\"):
        raise ValueError(f"{what} {path_text!r} is an absolute path; only relative paths under the report folder work")
    # Lexical, not resolve(): a report folder whose files are symlinks into DVC's cache must still be accepted.
    normal = posixpath.normpath(path_text.replace("\\", "/"))
    climbs = normal == ".." or normal.startswith("../")
    if climbs and not (sibling and not normal.startswith("../..") and normal.count("/") >= 2):
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


def _lossless_webp(png: bytes) -> bytes | None:
    """The PNG's pixels as lossless WebP, or None where that would not be the same picture or Pillow cannot write it.

    WebP lossless keeps every pixel (colour and alpha) and is about half the size of matplotlib's PNGs; every browser
    of the last years shows it (Chromium 32+, Firefox 65+, Safari 14+). Only 8-bit still images without gamma or
    colour-profile chunks are converted; any other PNG is embedded as it is rather than risk showing it differently.
    """
    try:
        from PIL import Image, features
    except ImportError:  # Pillow comes with matplotlib, which draws the figures; without it the PNG stays
        return None
    if not features.check("webp"):
        return None
    with Image.open(io.BytesIO(png)) as image:
        if (image.mode not in ("RGB", "RGBA", "L", "LA", "P") or getattr(image, "n_frames", 1) != 1
                or {"gamma", "icc_profile", "chromaticity"} & set(image.info)):
            return None
        image.load()
        if image.mode != "RGBA":  # palette, grey, or RGB; with a tRNS chunk ("transparency") it has alpha too
            image = image.convert("RGBA" if image.mode == "LA" or "transparency" in image.info else "RGB")
        if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
            image = image.convert("RGB")  # opaque after all (matplotlib writes RGBA): no alpha to carry
        out = io.BytesIO()
        # `exact` keeps the colour under fully transparent pixels; quality is the effort in lossless mode.
        image.save(out, "WEBP", lossless=True, exact=True, quality=75, method=4)
    return out.getvalue()


def _embedded_image(path: Path) -> tuple[str, tuple[int, int] | None]:
    """The image as a data URI (a PNG as lossless WebP where that is smaller), and its size where it is a PNG."""
    data = path.read_bytes()
    mime = _IMAGE_MIME[path.suffix.lower()]
    size = _png_size(data)
    if size is not None:
        webp = _lossless_webp(data)
        if webp is not None and len(webp) < len(data):
            data, mime = webp, "image/webp"
    return _data_uri(data, mime), size


def _img_html(token: Token, base_dir: Path, renderer) -> str:
    path = _image_path(str(token.attrGet("src") or ""), base_dir)
    alt = renderer.renderInlineAsText(token.children or [], {}, {})
    attributes = f' alt="{html.escape(alt)}"'
    title = token.attrGet("title")
    if title:
        attributes += f' title="{html.escape(str(title))}"'
    source, size = _embedded_image(path)
    if size is not None:
        # Known dimensions reserve the space before decoding, so jumping to an anchor lands where it should.
        attributes += f' width="{size[0]}" height="{size[1]}"'
        if size[0] >= FIGURE_MIN_PX:
            attributes += ' class="wide"'
    return f'<img src="{source}"{attributes}>'


def _link_href(href: str, base_dir: Path) -> str:
    """Where a link goes in the page: a URL or in-page anchor as written; a file under base_dir as the same relative
    link (checked to exist), except a report's Markdown, which goes to its HTML twin where that is beside it."""
    if re.match(r"^\s*(javascript|vbscript|data):", href, re.IGNORECASE):
        raise ValueError(f"link {href!r} uses a scheme that would run or embed content")
    if _is_url(href) or href.startswith("#") or not href:
        # Only followed on a click, never fetched when the page loads, so the CSP need not allow it.
        return href
    path = _local_file(href, base_dir, "link", sibling=True)
    path_part = re.split(r"[?#]", href, maxsplit=1)[0]
    twin = path.parent / _HTML_REPORT
    if path.name == _MARKDOWN_REPORT and path_part.endswith(_MARKDOWN_REPORT) and twin.is_file():
        return path_part.removesuffix(_MARKDOWN_REPORT) + _HTML_REPORT + href[len(path_part):]
    return href


def _link_open_html(token: Token, base_dir: Path) -> str:
    title = token.attrGet("title")
    title_attribute = f' title="{html.escape(str(title))}"' if title else ""
    return f'<a href="{html.escape(_link_href(str(token.attrGet("href") or ""), base_dir))}"{title_attribute}>'


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


def _slug_keeps(character: str) -> bool:
    category = unicodedata.category(character)
    return character in "- " or category[0] in "LM" or category in _SLUG_KEPT_CATEGORIES


def slug(text: str, used: dict[str, int]) -> str:
    """The id GitHub gives a heading whose text is `text`, unique among the ids in `used` (which it updates).

    GitHub's rule (github-slugger, and the Ruby filter before it): lowercase; drop every character that is not a
    letter, a mark, a digit, "_", "-" or a space; each space becomes "-" (no merging, no trimming). A slug seen
    before gets "-1", then "-2", ..., skipping any that is taken. `text` is the heading's text as shown, without
    Markdown (`heading_text`): "## 2. The `SameRandom` case" has the text "2. The SameRandom case", whose slug is
    "2-the-samerandom-case". A heading with nothing left is "section", where GitHub's empty id could not be linked.
    """
    base = "".join(character for character in text.lower() if _slug_keeps(character)).replace(" ", "-") or "section"
    result = base
    while result in used:
        used[base] += 1
        result = f"{base}-{used[base]}"
    used[result] = 0
    return result


def heading_text(inline: Token) -> str:
    """A heading's text as a browser shows it on GitHub: code keeps its content, markup and raw HTML tags go."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "xhtmlOut": False}).enable("table")
    # Every link and image is checked by the page's rules, which raise on what must not be in the page; markdown-it's
    # own check would instead leave `![x](file:///...)` as text and hide the mistake.
    md.validateLink = lambda url: True
    return md


def markdown_toc(markdown_text: str, levels: tuple[int, ...] = (2, 3)) -> str:
    """A table of contents for `markdown_text` in Markdown: one `- [Heading](#slug)` line per heading at `levels`,
    each level below the first indented under the one before. Its links work on GitHub, in Markdown viewers that
    follow GitHub's anchors, and in the page, since the slugs are those `render_page` gives the same headings."""
    tokens = _parser().parse(markdown_text)
    used: dict[str, int] = {}
    lines: list[str] = []
    depth = -1
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[index + 1]
        anchor = slug(heading_text(inline), used)  # every heading counts, listed or not, as in the page
        level = int(token.tag[1])
        if level not in levels:
            continue
        depth = min(levels.index(level), depth + 1)
        # The heading's own Markdown, its links unwrapped: a link inside the TOC's link would not be one.
        label = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", inline.content)
        lines.append(f"{'  ' * depth}- [{label}](#{anchor})")
    return "\n".join(lines) + "\n" if lines else ""


def _anchor_headings(tokens: list[Token], used: dict[str, int]) -> None:
    """Give every heading GitHub's id (before figures take theirs, so heading anchors never shift)."""
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            token.attrSet("id", slug(heading_text(tokens[index + 1]), used))


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
            anchor = slug(f"figure-{stem}", used)
            opening = Token("figure_open", "figure", 1, meta={"image": image, "anchor": anchor})
            closing = Token("figure_close", "figure", -1, meta={"anchor": anchor})
            out += [opening, window[4], closing]
            index += 6
        else:
            out.append(tokens[index])
            index += 1
    return out


def _in_page_link(inline: Token) -> bool:
    """Whether an inline is one link to an anchor in the page and nothing else."""
    children = [child for child in inline.children or [] if not (child.type == "text" and not child.content.strip())]
    return (len(children) >= 2 and children[0].type == "link_open" and children[-1].type == "link_close"
            and str(children[0].attrGet("href") or "").startswith("#")
            and sum(child.type == "link_open" for child in children) == 1)


def _link_list_end(tokens: list[Token], start: int) -> int | None:
    """The index of the list's closing token where the list opening at `start` holds nothing but in-page links (at
    least two, in nested lists too), else None."""
    depth = links = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.type in ("bullet_list_open", "ordered_list_open"):
            depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
            if depth == 0:
                return index if links >= 2 else None
        elif token.type == "inline":
            if not _in_page_link(token):
                return None
            links += 1
        elif token.type not in ("list_item_open", "list_item_close", "paragraph_open", "paragraph_close"):
            return None
    return None


def _wrap_toc_lists(tokens: list[Token]) -> list[Token]:
    """Each top-level list of in-page links (the report's table of contents) in a nav."""
    out: list[Token] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        end = (_link_list_end(tokens, index) if token.type in ("bullet_list_open", "ordered_list_open")
               and token.level == 0 else None)
        if end is None:
            out.append(token)
            index += 1
            continue
        out += [Token("toc_open", "nav", 1), *tokens[index:end + 1], Token("toc_close", "nav", -1)]
        index = end + 1
    return out


def _check_in_page_links(tokens: list[Token]) -> None:
    """Raise ValueError for a link to an anchor that no heading or figure has (a slug that went wrong)."""
    ids = {str(token.attrGet("id")) for token in tokens if token.type == "heading_open"}
    for token in tokens:
        if token.type == "figure_open":
            ids |= {token.meta["anchor"], f"{token.meta['anchor']}-full"}
    for token in tokens:
        for child in token.children or []:
            href = str(child.attrGet("href") or "") if child.type == "link_open" else ""
            if href.startswith("#") and len(href) > 1 and unquote(href[1:]) not in ids:
                raise ValueError(f"link {href!r} ({token.content!r}) points to no heading or figure of the page")


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
    md = _parser()
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

    def toc_open(self, tokens, index, options, env) -> str:
        return '<nav class="toc" aria-label="Contents">\n'

    def toc_close(self, tokens, index, options, env) -> str:
        return "</nav>\n"

    rules = {"image": image, "link_open": link_open, "html_inline": html_inline, "html_block": html_block,
             "softbreak": softbreak, "figure_open": figure_open, "figure_close": figure_close,
             "toc_open": toc_open, "toc_close": toc_close}
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
    _anchor_headings(tokens, used_ids)
    tokens = _wrap_toc_lists(_group_figures(tokens, used_ids))
    _check_in_page_links(tokens)
    return md.renderer.render(tokens, md.options, env)


def render_page(markdown_text: str, *, base_dir: Path, title: str) -> str:
    """One self-contained HTML5 document for `markdown_text`, to be saved in `base_dir` (as index.html beside
    report.md): images read from base_dir and embedded, links to files under base_dir kept as relative links.

    Raises FileNotFoundError for an image or linked file that is missing under base_dir, and ValueError for an image
    given as a URL, for an absolute path, for a path that leaves base_dir, for a javascript:, vbscript: or data:
    link, and for a link to an anchor that no heading or figure has. The output depends only on the arguments (no
    timestamps) and the installed libraries, so the same report gives the same bytes.
    """
    base_dir = Path(base_dir)
    body = _body_html(markdown_text, base_dir)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No network at all when the page loads, even if a later edit slips a remote URL in: the browser refuses
        # everything but data: images and the inline style. Links are followed only on a click, which the CSP allows.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">\n"
        f"<title>{html.escape(title)}</title>\n"
        f"<style>\n{STYLE}\n</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
