"""A real browser (Debian's Chromium through Playwright): the ministry admin enrols TOTP on the way to a
critical function, creates a tenant and grants a profile through the step-up prompt, signs out; then builds
an association and finds it in the tree."""

from __future__ import annotations

import os
import time

import pyotp

from tests.fixtures.app import unique


def _federation(app, name):
    from app.extensions import db
    from hierarchy import services
    from hierarchy.services import NodeDetails
    from tests.fixtures.app import SYSTEM, node

    with app.app_context():
        federation = services.create_child(
            db.session, SYSTEM, parent=node("MIN"), code=unique("FED-E2E-"), details=NodeDetails(name=name)
        )
        db.session.commit()
        return federation.code, federation.public_id


def test_admin_enrols_totp_creates_a_tenant_and_grants_a_profile_through_step_up(
    browser, live_server, app, make_staff, sign_in
):
    federation_code, _federation_id = _federation(app, "Fédération des pêcheurs")
    admin = make_staff(platform_admin=True, mfa_enrolled=False)
    colleague = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-SN")  # a phone
    sign_in(page, admin.email)

    page.get_by_role("link", name="Mutuelles").click()
    page.get_by_role("link", name="Créer une mutuelle").click()
    page.get_by_label("Nom de la mutuelle").fill("Mutuelle des pêcheurs")
    page.get_by_label("Identifiant").fill("peche_e2e")
    page.get_by_label("Secteur").select_option("peche")
    page.get_by_label("Fédération").select_option(federation_code)
    page.get_by_role("button", name="Créer").click()

    # A critical function without a second factor: enrol first (QR code, or the key typed by hand).
    page.get_by_role("heading", name="Activer la double authentification").wait_for()
    assert page.get_by_role("img", name="Code QR à scanner").is_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Activer").click()
    recovery_codes = [item.inner_text() for item in page.get_by_test_id("recovery-codes").locator("li").all()]
    assert len(recovery_codes) == 10
    page.get_by_role("link", name="J'ai noté mes codes, continuer").click()

    # The confirmation shows the operation's data; the code approves it and the creation goes through.
    page.get_by_role("heading", name="Confirmer l'opération").wait_for()
    assert page.get_by_text("Mutuelle des pêcheurs (peche_e2e)").is_visible()
    page.get_by_label("Code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Confirmer").click()
    page.get_by_role("heading", name="Mutuelle des pêcheurs").wait_for()

    # Granting a profile: the prompt appears, then the grant is made from the same form's input.
    page.goto(f"{live_server}/admin/comptes/{colleague.public_id}")
    page.get_by_label("Nœud").select_option("LIG-A")
    page.get_by_label("Profil").select_option("accountant")
    page.get_by_role("button", name="Attribuer").click()
    page.get_by_role("heading", name="Confirmer l'opération").wait_for()
    assert page.get_by_text("Comptable").is_visible()
    page.get_by_label("Code").fill(recovery_codes[0])  # the next TOTP step may not have come yet
    page.get_by_role("button", name="Confirmer").click()
    page.get_by_text("Profil attribué.").wait_for()
    assert page.get_by_role("cell", name="Comptable").is_visible()

    page.get_by_role("button", name="Se déconnecter").click()
    page.get_by_role("heading", name="Connexion").wait_for()
    page.goto(f"{live_server}/admin/comptes/")
    page.get_by_role("heading", name="Connexion").wait_for()


def test_admin_creates_an_association_and_sees_it_in_the_tree(
    browser, live_server, app, create_mutual, sign_in
):
    federation_code, federation_id = _federation(app, "Fédération des transporteurs")
    create_mutual("transport_e2e", federation_code=federation_code, sector="transport")
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-SN")
    sign_in(page, "admin@test.sn")

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
