"""A member on a phone (360×740): signs in to the portal with the code from the SMS outbox, reads their
rights, pays what is owed with the Sandbox provider, and gets the receipt. (Filing and rating a complaint is
the complaints walk-through's part.)"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.members.models import Member
from payments.models import PaymentInbox
from payments.service import process_inbox_row
from tenants.context import tenant_scope
from tests.portal.conftest import business_date, last_code, make_household  # noqa: F401


def test_a_member_signs_in_reads_rights_pays_and_gets_the_receipt(
    browser,
    live_server,
    app,
    world,
    make_household,  # noqa: F811 - the fixture imported above
):
    household = make_household(dues=(5, 6))
    with app.app_context(), tenant_scope(db.session, world.alpha):
        first_names = db.session.get(Member, household.principal.id).first_names

    phone = browser.new_page(viewport={"width": 360, "height": 740}, locale="fr-SN")
    phone.goto(f"{live_server}/alpha/portail/")
    phone.get_by_label("Numéro d'adhérent").fill(household.principal.number.lower().replace("-", " "))
    phone.get_by_role("button", name="Continuer").click()
    phone.get_by_role("heading", name="Code reçu par SMS").wait_for()
    code = last_code(app, world, household.principal.id)
    assert code is not None
    phone.get_by_label("Code reçu par SMS").fill(code)
    phone.get_by_role("button", name="Se connecter").click()
    phone.get_by_role("heading", name=f"Bonjour {first_names}").wait_for()

    # An htmx navigation: only <main> is swapped.
    phone.get_by_role("link", name="Mes droits", exact=True).click()
    phone.get_by_role("heading", name="Mes droits aujourd'hui").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # nothing wider than the phone

    phone.get_by_role("link", name="Mes cotisations").click()
    phone.get_by_role("heading", name="À payer").wait_for()
    phone.get_by_role("button", name="Payer maintenant").click()
    phone.get_by_role("button", name="Approuver").click()  # the Sandbox's "phone"
    phone.get_by_text("cours de confirmation").wait_for()

    # What the Celery worker does with the provider's event (run here, for a deterministic wait).
    with app.app_context(), tenant_scope(db.session, world.alpha):
        pending = db.session.scalars(select(PaymentInbox.id).where(PaymentInbox.processed_at.is_(None))).all()
        for inbox_id in pending:
            process_inbox_row(db.session, world.alpha, inbox_id)
        db.session.commit()

    phone.reload()
    phone.get_by_text("Paiement reçu : reçu n°").wait_for()
    href = phone.get_by_role("link", name="Reçu (PDF)").get_attribute("href")
    receipt = phone.request.get(f"{live_server}{href}")
    assert receipt.ok and receipt.body()[:5] == b"%PDF-"
    phone.get_by_role("link", name="Retour à mes cotisations").click()
    phone.get_by_text("Vous êtes à jour").wait_for()


def test_a_refused_form_keeps_what_was_typed_with_javascript(
    browser,
    live_server,
    app,
    world,
    make_household,  # noqa: F811 - the fixture imported above
):
    household = make_household()
    phone = browser.new_page(viewport={"width": 360, "height": 740}, locale="fr-SN")
    phone.goto(f"{live_server}/alpha/portail/connexion")
    phone.get_by_label("Numéro d'adhérent").fill(household.principal.number)
    phone.get_by_role("button", name="Continuer").click()
    phone.get_by_label("Code reçu par SMS").fill(last_code(app, world, household.principal.id) or "")
    phone.get_by_role("button", name="Se connecter").click()
    phone.get_by_role("link", name="Mes données").click()  # boosted: htmx swaps <main>
    phone.get_by_label("Adresse e-mail (facultatif)").fill("pas-une-adresse")
    phone.get_by_role("button", name="Enregistrer", exact=True).click()
    phone.locator(".error").first.wait_for()  # the 422 answer is swapped in: the message shows
    assert phone.get_by_label("Adresse e-mail (facultatif)").input_value() == "pas-une-adresse"
