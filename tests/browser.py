"""Headless Chromium for the page tests: the system browser, offline, with console errors collected."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the system Chromium at /usr/bin/chromium "
                       "(apt-get install chromium)"),
]


@dataclass
class OfflinePage:
    page: Any
    errors: list[str] = field(default_factory=list)
    """Console errors and uncaught exceptions."""
    blocked: list[str] = field(default_factory=list)
    """Requests for anything but ``file:`` and ``data:`` URLs, which were refused."""

    def open(self, path: Path) -> None:
        """Load a local HTML file in a 1280×900 viewport and wait for its ``load`` event."""
        self.page.set_viewport_size({"width": 1280, "height": 900})
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")

    def image_sizes(self) -> list[tuple[bool, int]]:
        """``(complete, naturalWidth)`` of every ``<img>`` on the page."""
        sizes = self.page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
        return [(bool(done), int(width)) for done, width in sizes]


@contextmanager
def offline_page(profile_dir: Path) -> Iterator[OfflinePage]:
    """A page in a fresh Chromium profile where every non-local request is aborted (proves the page is offline)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(profile_dir), executable_path=str(CHROMIUM), args=FLAGS, headless=True
        )
        try:
            result = OfflinePage(browser.new_page())
            result.page.on("console", lambda m: result.errors.append(m.text) if m.type == "error" else None)
            result.page.on("pageerror", lambda e: result.errors.append(str(e)))

            def route(r: Any) -> None:
                url = r.request.url
                if url.startswith(("file:", "data:")):
                    r.continue_()
                else:
                    result.blocked.append(url)
                    r.abort()

            result.page.route("**/*", route)
            yield result
        finally:
            browser.close()
