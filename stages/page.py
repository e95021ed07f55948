"""Render the report's Markdown as one self-contained HTML5 page.

Only the subset of Markdown that `stages.report` writes is understood: ATX headings (# to ####), paragraphs, pipe
tables, bullet lists, fenced code blocks, and inline bold, italic, code, links and images. Every image is embedded as
a base64 data URI so the page can be published as a single file that never fetches anything; the standard library
is enough for that subset, so the project takes no Markdown dependency.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path, PurePosixPath

__all__ = ["render_page"]

# Inline only: a page that links a stylesheet or a web font would fetch when opened, and break when moved.
STYLE = """
:root { color-scheme: light; }
body { margin: 0; background: #fff; color: #1d1d1f;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.8em 0 0.6em; }
h1 { font-size: 1.9rem; margin-top: 0.5em; }
h2 { font-size: 1.45rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.2rem; }
h4 { font-size: 1.05rem; }
a { color: #0b57d0; }
code { font: 0.9em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: #f3f3f5; padding: 0.1em 0.3em; border-radius: 3px; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; border-radius: 4px; padding: 0.8em 1em; overflow-x: auto; }
pre code { background: none; padding: 0; }
img { max-width: 100%; height: auto; }
figure { margin: 1.5em 0; }
figure img { display: block; margin: 0 auto; }
figcaption { font-size: 0.92em; color: #444; margin-top: 0.5em; }
.table-wrap { overflow-x: auto; margin: 1em 0; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #eceff3; }
tbody tr:nth-child(even) { background: #f7f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
""".strip()

_HEADING = re.compile(r"^(#{1,4})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^```")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_IMAGE_LINE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$")
# A cell that is a plain number (thousands separators, sign, percent, trailing "x" as in "1.00x") reads best
# right-aligned so that digits line up down the column.
_NUMERIC = re.compile(r"^[-+−]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?(e[-+]?\d+)?%?x?$", re.IGNORECASE)
# Inline tokens, tried left to right: code first so that nothing inside backticks is interpreted.
_INLINE = re.compile(
    r"(?P<code>`+)(?P<code_text>.+?)(?P=code)"
    r"|!\[(?P<img_alt>[^\]]*)\]\((?P<img_src>[^)\s]+)\)"
    r"|\[(?P<link_text>[^\]]+)\]\((?P<link_href>[^)\s]+)\)"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|\*(?P<italic>[^*\s](?:[^*]*[^*\s])?)\*"
)
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".gif": "image/gif", ".webp": "image/webp"}


def _image_uri(target: str, base_dir: Path) -> str:
    """The image at `target` (relative to base_dir) as a data URI; refuse anything the browser would fetch."""
    lowered = target.lower()
    if re.match(r"^[a-z][a-z0-9+.-]*:", lowered) or lowered.startswith("//"):
        # http:, https:, file:, data: ... : the page must hold its own bytes, and a URL would be fetched.
        raise ValueError(f"image {target!r} is a URL; only relative paths under the report folder can be embedded")
    if PurePosixPath(target).is_absolute() or Path(target).is_absolute() or target.startswith("\\"):
        raise ValueError(f"image {target!r} is an absolute path; only relative paths can be embedded")
    path = base_dir / target
    if not path.is_file():
        raise FileNotFoundError(f"image {target!r} not found at {path}")
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"image {target!r} has an unsupported type {path.suffix!r} (expected one of {sorted(_MIME)})")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline(text: str, base_dir: Path) -> str:
    """Inline Markdown to HTML; every piece of text is escaped, tags are only ever produced here."""
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[position:match.start()]))
        position = match.end()
        if match.group("code"):
            out.append(f"<code>{html.escape(match.group('code_text').strip())}</code>")
        elif match.group("img_src") is not None:
            uri = _image_uri(match.group("img_src"), base_dir)
            out.append(f'<img src="{uri}" alt="{html.escape(match.group("img_alt"))}">')
        elif match.group("link_href") is not None:
            # Kept as written (relative files such as tables/cells.csv stay relative): a link is only followed on a
            # click, never fetched when the page loads.
            href = match.group("link_href")
            if re.match(r"^\s*(javascript|vbscript|data):", href, re.IGNORECASE):
                raise ValueError(f"link {href!r} uses a scheme that would run or embed content")
            out.append(f'<a href="{html.escape(href)}">{_inline(match.group("link_text"), base_dir)}</a>')
        elif match.group("bold") is not None:
            out.append(f"<strong>{_inline(match.group('bold'), base_dir)}</strong>")
        else:
            out.append(f"<em>{_inline(match.group('italic'), base_dir)}</em>")
    out.append(html.escape(text[position:]))
    return "".join(out)


def _slug(text: str, used: dict[str, int]) -> str:
    """A stable id from a heading's text, made unique by a numeric suffix (same text twice → -2)."""
    plain = re.sub(r"[`*_\[\]()!]", "", text).lower()
    slug = re.sub(r"[^\w]+", "-", plain, flags=re.ASCII).strip("-") or "section"
    count = used.get(slug, 0)
    used[slug] = count + 1
    return slug if count == 0 else f"{slug}-{count + 1}"


def _split_row(line: str) -> list[str]:
    """The cells of one pipe-table row; `\\|` is a literal pipe inside a cell."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]


def _table(lines: list[str], base_dir: Path) -> str:
    header, rows = _split_row(lines[0]), [_split_row(line) for line in lines[2:]]
    out = ['<div class="table-wrap"><table>', "<thead><tr>"]
    out += [f"<th>{_inline(cell, base_dir)}</th>" for cell in header]
    out.append("</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        # Short rows are padded so every row has the header's columns, as renderers of pipe tables do.
        row = row + [""] * (len(header) - len(row))
        out.append("<tr>")
        for cell in row[:len(header)]:
            numeric = any(ch.isdigit() for ch in cell) and _NUMERIC.match(cell) is not None
            attribute = ' class="num"' if numeric else ""
            out.append(f"<td{attribute}>{_inline(cell, base_dir)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _is_table_start(lines: list[str], index: int) -> bool:
    return (index + 1 < len(lines) and "|" in lines[index]
            and _TABLE_SEPARATOR.match(lines[index + 1]) is not None and "-" in lines[index + 1])


def _blocks(markdown_text: str, base_dir: Path) -> list[str]:
    """Block-level Markdown to a list of HTML fragments, one per block."""
    lines = markdown_text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    used_ids: dict[str, int] = {}
    index = 0

    def starts_block(line: str, at: int) -> bool:
        # A paragraph ends where another kind of block begins, even without a blank line between them.
        return (not line.strip() or _HEADING.match(line) is not None or _FENCE.match(line) is not None
                or _BULLET.match(line) is not None or _IMAGE_LINE.match(line) is not None
                or _is_table_start(lines, at))

    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if _FENCE.match(line):
            language = line.strip()[3:].strip()
            end = index + 1
            while end < len(lines) and not _FENCE.match(lines[end]):
                end += 1
            code = "\n".join(lines[index + 1:end])
            attribute = f' class="language-{html.escape(language)}"' if language else ""
            out.append(f"<pre><code{attribute}>{html.escape(code)}</code></pre>")
            index = end + 1  # an unclosed fence runs to the end of the text, as CommonMark has it
            continue
        heading = _HEADING.match(line)
        if heading:
            level, text = len(heading.group(1)), heading.group(2)
            out.append(f'<h{level} id="{_slug(text, used_ids)}">{_inline(text, base_dir)}</h{level}>')
            index += 1
            continue
        if _is_table_start(lines, index):
            end = index + 2
            while end < len(lines) and lines[end].strip() and "|" in lines[end]:
                end += 1
            out.append(_table(lines[index:end], base_dir))
            index = end
            continue
        if _BULLET.match(line):
            items: list[str] = []
            while index < len(lines) and lines[index].strip():
                bullet = _BULLET.match(lines[index])
                if bullet:
                    items.append(bullet.group(1).strip())
                elif items and lines[index].startswith((" ", "\t")):
                    items[-1] += " " + lines[index].strip()  # an indented line continues the item above
                else:
                    break
                index += 1
            out.append("<ul>" + "".join(f"<li>{_inline(item, base_dir)}</li>" for item in items) + "</ul>")
            continue
        image = _IMAGE_LINE.match(line)
        if image:
            img = f'<img src="{_image_uri(image.group(2), base_dir)}" alt="{html.escape(image.group(1))}">'
            # The report writes each figure's caption as the next paragraph, "*Figure N. ...*".
            following = index + 1
            while following < len(lines) and not lines[following].strip():
                following += 1
            if following < len(lines) and re.match(r"^\*Figure \d+\.", lines[following]):
                end = following
                while end < len(lines) and not starts_block(lines[end], end):
                    end += 1
                caption = " ".join(part.strip() for part in lines[following:end])
                out.append(f"<figure>{img}<figcaption>{_inline(caption, base_dir)}</figcaption></figure>")
                index = end
            else:
                out.append(f"<p>{img}</p>")
                index += 1
            continue
        end = index + 1
        while end < len(lines) and not starts_block(lines[end], end):
            end += 1
        paragraph = " ".join(part.strip() for part in lines[index:end])
        out.append(f"<p>{_inline(paragraph, base_dir)}</p>")
        index = end
    return out


def render_page(markdown_text: str, *, base_dir: Path, title: str) -> str:
    """One self-contained HTML5 document for `markdown_text`, images read from `base_dir` and embedded.

    Raises FileNotFoundError for an image that is missing under base_dir and ValueError for an image given as a URL or
    an absolute path. The output depends only on the arguments (no timestamps), so the same report gives the same bytes.
    """
    base_dir = Path(base_dir)
    body = "\n".join(_blocks(markdown_text, base_dir))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No network at all, even if a later edit slips a remote URL in: the browser refuses everything but data:.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">\n"
        f"<title>{html.escape(title)}</title>\n"
        f"<style>\n{STYLE}\n</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
