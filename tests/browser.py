"""Open an HTML file in headless Chromium and report what a reader's browser would see (a helper, not tests).

Uses the `playwright` Python package to drive Debian's /usr/bin/chromium over the DevTools protocol; Playwright's
own browser download (`playwright install`) is never used, so nothing beyond the Debian package is needed.
Every request that is not the page's own file or a data: URI is recorded and then aborted: the check must see a page
that would fetch, without ever letting it fetch.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# Headless, and quiet: no GPU, no QUIC, and none of Chromium's own background traffic (updates, sync, field trials),
# which would otherwise be noise next to the page's requests.
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Generous: the project's machines are 2 cores that may be busy training while the tests run.
TIMEOUT_MS = 120_000

# In the page: every <img> with its load state. `complete` is false while loading; naturalWidth is 0 when the bytes
# could not be decoded or fetched.
IMAGES_JS = """() => Array.from(document.images).map((img, index) => ({
    index, src: img.currentSrc || img.getAttribute('src') || '', complete: img.complete, width: img.naturalWidth,
}))"""


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


def check_page(html_path: Path, screenshot_path: Path) -> PageCheck:
    """Load `html_path` in headless Chromium, save a full-page PNG screenshot, and report requests and images."""
    # Imported here so that importing this module never fails where playwright is absent (the tests decide to skip).
    from playwright.sync_api import Route, sync_playwright

    page_url = Path(html_path).resolve().as_uri()
    requests: list[str] = []

    def record(request) -> None:
        url = request.url
        if url != page_url and not url.startswith("data:"):
            requests.append(url)

    def block(route: Route) -> None:
        url = route.request.url
        if url == page_url or url.startswith("data:"):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    with tempfile.TemporaryDirectory(prefix="page-check-profile-") as profile, sync_playwright() as playwright:
        # A fresh profile each time: no cache or state from another run can hide a request.
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True,
            viewport={"width": 1280, "height": 900}, timeout=TIMEOUT_MS, service_workers="block",
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
            images = page.evaluate(IMAGES_JS)
            title = page.title()
            screenshot_path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot_path), full_page=True, type="png")
        finally:
            context.close()
    broken = [_short(image["src"]) or f"<img #{image['index']} without src>"
              for image in images if not image["complete"] or image["width"] == 0]
    return PageCheck(requests=requests, broken_images=broken, image_count=len(images), title=title)
