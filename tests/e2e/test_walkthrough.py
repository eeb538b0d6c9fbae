"""A real browser (Debian's Chromium through Playwright): the ministry admin signs in, creates a tenant
and an association, and finds it in the tree."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.fixtures.app import PASSWORD, unique

CHROMIUM = os.environ.get("MBOLO_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.e2e


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


def test_admin_creates_a_tenant_and_an_association_and_sees_it_in_the_tree(browser, live_server, app):
    from app.extensions import db
    from hierarchy import services
    from hierarchy.services import NodeDetails
    from tests.fixtures.app import SYSTEM, node

    with app.app_context():
        federation = services.create_child(
            db.session,
            SYSTEM,
            parent=node("MIN"),
            code=unique("FED-E2E-"),
            details=NodeDetails(name="Fédération des transporteurs"),
        )
        db.session.commit()
        federation_code, federation_id = federation.code, federation.public_id

    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-SN")  # a phone
    page.goto(f"{live_server}/")
    page.get_by_label("E-mail").fill("admin@test.sn")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("heading", name="Hiérarchie").wait_for()

    page.get_by_role("link", name="Mutuelles").click()
    page.get_by_role("link", name="Créer une mutuelle").click()
    page.get_by_label("Nom de la mutuelle").fill("Mutuelle des transporteurs")
    page.get_by_label("Identifiant").fill("transport_e2e")
    page.get_by_label("Secteur").select_option("transport")
    page.get_by_label("Fédération").select_option(federation_code)
    page.get_by_role("button", name="Créer").click()
    page.get_by_role("heading", name="Mutuelle des transporteurs").wait_for()

    page.goto(f"{live_server}/hierarchie/noeuds/{federation_id}")
    page.get_by_role("link", name="Créer : Ligue").click()
    page.get_by_label("Code").fill("LIG-TR-DK")
    page.get_by_label("Nom").fill("Ligue des transporteurs de Dakar")
    page.get_by_role("button", name="Créer").click()
    page.get_by_role("link", name="Créer : Association").click()
    page.get_by_label("Code").fill("ASS-TR-COLOBANE")
    page.get_by_label("Nom").fill("Association des chauffeurs de Colobane")
    page.get_by_role("button", name="Créer").click()
    page.get_by_role("heading", name="Association des chauffeurs de Colobane").wait_for()

    # In the tree: expand ministry → fédération → ligue with htmx, without leaving the page.
    page.get_by_role("link", name="Hiérarchie").click()
    page.locator("#node-" + node_public_id(app, "MIN") + " > .node .toggle").click()
    page.locator(f"#node-{federation_id} > .node .toggle").click()
    league_id = node_public_id(app, "LIG-TR-DK")
    page.locator(f"#node-{league_id} > .node .toggle").click()
    association = page.locator(f"#children-{league_id}").get_by_role(
        "link", name="Association des chauffeurs de Colobane"
    )
    association.wait_for()
    assert page.url.endswith("/hierarchie/")
    page.screenshot(path=os.path.join(os.environ.get("MBOLO_DATA_DIR", "var"), "e2e-tree.png"))


def node_public_id(app, code):
    from tests.fixtures.app import node

    with app.app_context():
        return node(code).public_id
