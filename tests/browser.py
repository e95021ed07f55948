"""Open an HTML file in headless Chromium and report what a reader's browser would see (a helper, not tests).

`check_page` reports requests and broken images; `open_page` hands a live page to layout checks: what sticks out
of a phone's screen, which tables print cut off, whether the table of contents reaches each section, which files the
page's links point to. `assert_within_budget` holds a page to the weight a published page may have.

Uses the `playwright` Python package to drive Debian's /usr/bin/chromium over the DevTools protocol; Playwright's
own browser download (`playwright install`) is never used, so nothing beyond the Debian package is needed.
Every request that is not the page's own file or a data: URI is recorded and then aborted: the check must see a page
that would fetch, without ever letting it fetch.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# The most a published page may weigh, in bytes: it is opened on phones, over slow links, and kept in git at every
# commit. Images are embedded (the page must hold its own pictures); the figures' data, their print versions and the
# sibling reports are files beside it, linked.
PAGE_BUDGET_BYTES = 1_500_000
# Headless, and quiet: no GPU, no QUIC, and none of Chromium's own background traffic (updates, sync, field trials),
# which would otherwise be noise next to the page's requests.
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Generous: the project's machines are 2 cores that may be busy training while the tests run.
TIMEOUT_MS = 120_000

_DATA_URI = re.compile(r"data:[^\"'\s)]+")

# In the page: every <img> with its load state. `complete` is false while loading; naturalWidth is 0 when the bytes
# could not be decoded or fetched.
IMAGES_JS = """() => Array.from(document.images).map((img, index) => ({
    index, src: img.currentSrc || img.getAttribute('src') || '', complete: img.complete, width: img.naturalWidth,
}))"""


def assert_within_budget(page: str | bytes | Path, what: str, budget: int = PAGE_BUDGET_BYTES) -> int:
    """Fail when the page (its HTML, or the file holding it) weighs more than `budget` bytes; return its size."""
    data = page.read_bytes() if isinstance(page, Path) else page.encode("utf-8") if isinstance(page, str) else page
    # The largest embedded files, as the first suspects when a page grows past the budget.
    uris = sorted(((len(m.group(0)), m.group(0)[:40] + "...") for m in _DATA_URI.finditer(data.decode("utf-8"))),
                  reverse=True)[:5]
    assert len(data) <= budget, (f"{what}: {len(data):,} bytes is over the page budget of {budget:,} bytes; "
                                 f"largest embedded: {uris}")
    return len(data)


@dataclass(frozen=True)
class PageCheck:
    """What the browser saw: requests beyond the page itself, images that did not render, and the page's title."""

    requests: list[str] = field(default_factory=list)  # URLs other than the page's own file:// URL and data: URIs
    broken_images: list[str] = field(default_factory=list)  # src (shortened) of each image that did not render
    image_count: int = 0
    title: str = ""


def _short(url: str, limit: int = 80) -> str:
    # data: URIs of figures run to megabytes; the start is enough to say which image it was.
    return url if len(url) <= limit else url[:limit] + "..."


@contextmanager
def open_page(html_path: Path, *, width: int = 1280, height: int = 900,
              requests: list[str] | None = None) -> Iterator:
    """A playwright Page showing `html_path` in headless Chromium, every image decoded; the browser closes after.

    Every request other than the page's own file and data: URIs is appended to `requests` and aborted.
    """
    # Imported here so that importing this module never fails where playwright is absent (the tests decide to skip).
    from playwright.sync_api import Route, sync_playwright

    page_url = Path(html_path).resolve().as_uri()
    seen = requests if requests is not None else []

    def own(url: str) -> bool:
        # The page's own file, also with a #fragment after a click on an in-page link.
        return url.split("#", 1)[0] == page_url or url.startswith("data:")

    def record(request) -> None:
        if not own(request.url):
            seen.append(request.url)

    def block(route: Route) -> None:
        if own(route.request.url):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    with tempfile.TemporaryDirectory(prefix="page-check-profile-") as profile, sync_playwright() as playwright:
        # A fresh profile each time: no cache or state from another run can hide a request.
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True,
            viewport={"width": width, "height": height}, timeout=TIMEOUT_MS, service_workers="block",
            accept_downloads=True,
        )
        try:
            context.set_default_timeout(TIMEOUT_MS)
            context.on("request", record)
            context.route("**/*", block)
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(page_url, wait_until="load")
            # "load" waits for images, but a failed one may settle a moment later; this settles them all.
            page.evaluate("() => Promise.all(Array.from(document.images).map("
                          "img => img.decode().catch(() => null)))")
            yield page
        finally:
            context.close()


def check_page(html_path: Path, screenshot_path: Path) -> PageCheck:
    """Load `html_path` in headless Chromium, save a full-page PNG screenshot, and report requests and images."""
    requests: list[str] = []
    with open_page(html_path, requests=requests) as page:
        images = page.evaluate(IMAGES_JS)
        title = page.title()
        screenshot_path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot_path), full_page=True, type="png")
    broken = [_short(image["src"]) or f"<img #{image['index']} without src>"
              for image in images if not image["complete"] or image["width"] == 0]
    return PageCheck(requests=requests, broken_images=broken, image_count=len(images), title=title)


# Where content may be wider than the screen: it scrolls sideways inside these instead of widening the page.
SCROLL_CONTAINERS = ".table-wrap, pre, .figure-scroll"

# In the page: every visible element whose right edge lies beyond the viewport, unless a scroll container holds it
# (one of `containers` that really scrolls: a container whose overflow was made visible holds nothing back).
OVERFLOW_JS = """(containers) => {
    const width = document.documentElement.clientWidth;
    const scrolls = (element) => ['auto', 'scroll'].includes(getComputedStyle(element).overflowX);
    const held = (element) => {
        for (let up = element.parentElement; up; up = up.parentElement)
            if (up.matches(containers) && scrolls(up)) return true;
        return false;
    };
    const out = [];
    for (const element of document.body.querySelectorAll('*')) {
        if (held(element)) continue;
        const box = element.getBoundingClientRect();
        if (box.width === 0 && box.height === 0) continue;
        if (box.right > width + 0.5) {
            const name = element.tagName.toLowerCase() + (element.className ? '.' + element.className : '');
            out.push(`${name} right=${box.right.toFixed(1)} > ${width}: ${element.textContent.slice(0, 60)}`);
        }
    }
    return out;
}"""

# In the page: every table that is cut off, i.e. wider than the box it sits in or that box scrolls.
CLIPPED_TABLES_JS = """() => Array.from(document.querySelectorAll('table')).flatMap((table, index) => {
    const holder = table.parentElement;
    const right = table.getBoundingClientRect().right, holderRight = holder.getBoundingClientRect().right;
    const problems = [];
    if (right > holderRight + 0.5) problems.push(`table #${index} right ${right} > its container's ${holderRight}`);
    if (holder.scrollWidth > holder.clientWidth + 1)
        problems.push(`table #${index}: container scrolls (${holder.scrollWidth} > ${holder.clientWidth})`);
    if (right > document.documentElement.clientWidth + 0.5) problems.push(`table #${index} right ${right} > page`);
    return problems;
})"""

# The links a reader follows inside the page: the table of contents, which the report writes as ordinary Markdown
# links to its headings (in a nav or on one line), and cross-references; not the figures' own links to and from their
# full-size view, nor a bare "#".
IN_PAGE_LINKS = 'main a[href^="#"]:not([href="#"]):not(.figure-open):not(.figure-close):not(.full-size)'

# In the page: where the element with this id is, against the viewport, and the location's fragment.
TARGET_JS = """(id) => {
    const target = document.getElementById(id);
    if (!target) return null;
    const box = target.getBoundingClientRect();
    return {top: box.top, bottom: box.bottom, height: window.innerHeight, hash: decodeURIComponent(location.hash)};
}"""


def overflowing_elements(page) -> list[str]:
    """Elements that stick out past the right edge of the viewport outside any scroll container."""
    return page.evaluate(OVERFLOW_JS, SCROLL_CONTAINERS)


def clipped_tables(page) -> list[str]:
    return page.evaluate(CLIPPED_TABLES_JS)


def toc_links_that_miss(page, selector: str = IN_PAGE_LINKS) -> tuple[int, list[str]]:
    """Click every visible in-page link (the table of contents, whether a nav or a line of links, and the text's
    cross-references); (links clicked, those whose target did not come into view)."""
    links = [link for link in page.query_selector_all(selector) if link.is_visible()]
    missed = []
    for link in links:
        # The id as written in the page: a non-ASCII slug is percent-encoded in the link's href.
        anchor = unquote(link.get_attribute("href")[1:])
        link.click()
        where = page.evaluate(TARGET_JS, anchor)
        if where is None:
            missed.append(f"#{anchor}: no element has this id")
            continue
        at_top = abs(where["top"]) <= 3
        # A section near the end cannot scroll to the top; it counts when it is the fragment and fully on screen.
        in_view = where["hash"] == f"#{anchor}" and where["top"] >= -1 and where["bottom"] <= where["height"] + 1
        if not (at_top or in_view):
            missed.append(f"#{anchor}: top {where['top']:.0f}, hash {where['hash']!r}")
    return len(links), missed


def linked_files(page, selector: str) -> list[tuple[str, Path | None]]:
    """For each link matching `selector`: its href as written, and the local file the browser resolves it to (None
    for a link that is not a file: URL). Nothing is clicked or fetched: the browser only resolves the URL."""
    links = page.eval_on_selector_all(selector, "links => links.map(a => [a.getAttribute('href'), a.href])")
    out: list[tuple[str, Path | None]] = []
    for written, resolved in links:
        parsed = urlparse(resolved)
        out.append((written, Path(url2pathname(parsed.path)) if parsed.scheme == "file" else None))
    return out
