"""A real browser: a manager creates a product covering three benefits (each coverage rule confirmed by a
code), an agent subscribes a household and records a cash payment, and the member's rights open once the
waiting period is over."""

from __future__ import annotations

import datetime as dt
import uuid

from app.coverage import benefits
from app.extensions import db
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM

START = dt.date(2026, 11, 2)


def _catalogue(app, world, codes):
    with app.app_context(), tenant_scope(db.session, world.alpha):
        for code, name, category in codes:
            benefits.create_benefit(
                db.session,
                world.alpha,
                SYSTEM,
                benefits.BenefitInput(code=code, name=name, category=category),
            )
        db.session.commit()


def test_a_product_a_payment_and_rights_that_open_after_the_waiting_period(
    browser, live_server, app, world, make_staff, enrolled, sign_in
):
    suffix = uuid.uuid4().hex[:4].upper()
    codes = [
        (f"C{suffix}", "Consultation générale", "consultation"),
        (f"H{suffix}", "Hospitalisation", "hospitalisation"),
        (f"L{suffix}", "Analyses de laboratoire", "laboratory"),
    ]
    _catalogue(app, world, codes)
    manager = make_staff(("FED-A", "mutual_manager"))
    app.config["MBOLO_TODAY"] = START.isoformat()
    try:
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-SN")
        sign_in(page, manager.email)
        page.goto(f"{live_server}/alpha/produits/nouveau")
        page.get_by_label("Code", exact=True).fill(f"E{suffix}")
        page.get_by_label("Nom", exact=True).fill(f"Paquet essentiel {suffix}")
        page.get_by_label("Valable à partir du").fill("01/11/2026")
        page.get_by_label("Cotisation", exact=True).select_option("per_household")
        page.get_by_label("Montant par période (F CFA)").fill("2500")
        page.get_by_label("Périodicité").select_option("monthly")
        page.get_by_label("Stage (carence), en jours").fill("30")
        page.get_by_label("Délai de grâce, en jours").fill("15")
        page.get_by_role("button", name="Créer le produit").click()
        page.get_by_role("heading", name=f"Paquet essentiel {suffix}").wait_for()
        product_url = page.url

        for code, _name, _category in codes:
            page.goto(product_url)
            page.get_by_label("Paramétrer une prestation : son code").fill(code)
            page.get_by_role("button", name="Ouvrir").click()
            page.get_by_label("Taux de prise en charge (%)").fill("80")
            page.get_by_role("button", name="Enregistrer la couverture").click()
            page.get_by_role("heading", name="Confirmer l'opération").wait_for()
            page.get_by_label("Code").fill(manager.next_code())
            page.get_by_role("button", name="Confirmer").click()
            page.wait_for_url(f"{product_url}*")
        page.goto(product_url)
        for _code, name, _category in codes:
            assert page.get_by_role("link", name=name).is_visible()

        member = enrolled()
        agent = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
        counter = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-SN")
        sign_in(counter, agent.email)
        counter.goto(f"{live_server}/alpha/adherents/{member.public_id}")
        counter.get_by_text("Souscrire à un produit").click()
        counter.get_by_label("Produit").select_option(label=f"Paquet essentiel {suffix}")
        counter.get_by_label("À partir du").fill("02/11/2026")
        counter.get_by_role("button", name="Souscrire").click()
        counter.get_by_text(f"Souscription enregistrée : Paquet essentiel {suffix}").wait_for()
        counter.get_by_label("Montant reçu (F CFA)").fill("2500")
        counter.get_by_role("button", name="Enregistrer le paiement").click()
        counter.get_by_text("R-2026-").first.wait_for()

        counter.goto(f"{live_server}/alpha/droits/{member.public_id}")
        counter.get_by_text("délai de carence").first.wait_for()
        app.config["MBOLO_TODAY"] = (START + dt.timedelta(days=31)).isoformat()
        counter.reload()
        counter.get_by_text(f"Couvert aujourd'hui par Paquet essentiel {suffix}").wait_for()
    finally:
        app.config.pop("MBOLO_TODAY", None)
