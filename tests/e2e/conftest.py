"""Browser tests: Debian's Chromium through Playwright, against the app served on a free local port."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable

import pytest
from werkzeug.serving import make_server

from tests.fixtures.app import PASSWORD

CHROMIUM = os.environ.get("MBOLO_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium) — browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def live_server(app, world):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def sign_in(live_server: str) -> Callable[..., None]:
    def go(page: object, email: str) -> None:
        page.goto(f"{live_server}/")  # type: ignore[attr-defined]
        page.get_by_label("E-mail ou téléphone").fill(email)  # type: ignore[attr-defined]
        page.get_by_label("Mot de passe").fill(PASSWORD)  # type: ignore[attr-defined]
        page.get_by_role("button", name="Se connecter").click()  # type: ignore[attr-defined]
        page.get_by_role("heading", name="Hiérarchie").wait_for()  # type: ignore[attr-defined]

    return go


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this folder is a browser test (``-m "not e2e"`` skips them all)."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)
