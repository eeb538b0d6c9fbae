"""A real browser at phone size (360×740): a provider's staff member signs in and checks a member by the QR
token a scanner app pastes; an agent of the mutual issues a guarantee letter for that member."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.care.models import ProviderUser
from app.extensions import db
from app.members import cards
from app.security.models import Account
from tenants.context import tenant_scope
from tests.app.care.test_eligibility import TODAY, setup_care
from tests.fixtures.app import PASSWORD

D = dt.date


def test_counter_check_by_qr_and_a_guarantee_letter(
    browser, live_server, app, world, make_staff, sign_in, monkeypatch
):
    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY)
    staff = make_staff(("FED-A", "provider_staff"))
    agent = make_staff(("FED-A", "mutual_manager"))
    with app.app_context():
        account_id = db.session.scalar(select(Account.id).where(Account.email == staff.email))
        with tenant_scope(db.session, world.alpha):
            care = setup_care(db.session, world)
            db.session.add(ProviderUser(provider_id=care["a"].id, account_id=account_id))
            token = cards.card_token(db.session, world.alpha, care["member"], valid_until=D(2027, 12, 31))
            number, name = care["member"].number, care["member"].full_name
            provider_name, consult = care["a"].name, care["consult"].code
            db.session.commit()

    phone = browser.new_page(viewport={"width": 360, "height": 740}, locale="fr-SN")
    # provider staff hold no hierarchy permission: sign in by hand, then go to the counter
    phone.goto(f"{live_server}/connexion")
    phone.get_by_label("E-mail ou téléphone").fill(staff.email)
    phone.get_by_label("Mot de passe").fill(PASSWORD)
    phone.get_by_role("button", name="Se connecter").click()
    phone.wait_for_url(lambda url: "/connexion" not in url)
    phone.goto(f"{live_server}/alpha/guichet/")
    phone.get_by_label("Carte ou numéro de membre").fill(f"{live_server}/alpha/verify/{token}")
    phone.get_by_role("button", name="Vérifier").click()
    phone.get_by_role("heading", name="✔ Couvert").wait_for()
    assert name in phone.content() and "Scanner" in phone.content()  # prior approval listed
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.close()

    desk = browser.new_page(viewport={"width": 360, "height": 740}, locale="fr-SN")
    sign_in(desk, agent.email)
    desk.goto(f"{live_server}/alpha/lettres/nouvelle")
    desk.get_by_label("Numéro du bénéficiaire").fill(number)
    desk.get_by_label("Prestataire").select_option(label=provider_name)
    desk.get_by_label("Actes").fill(f"{consult}, 2")
    desk.get_by_role("button", name="Émettre").click()
    desk.get_by_text("Émise", exact=True).wait_for()
    assert "10 000" in desk.content().replace("\u202f", " ").replace("\xa0", " ")
    pdf = desk.get_by_role("link", name="Lettre (PDF avec code QR)")
    assert pdf.is_visible()
    desk.close()
