"""A provider's invoice from entry to the member's portal, in a real browser: the provider's staff submits an
invoice of five lines (one above a ceiling, one not covered, one duplicate), the médecin-conseil reviews the
flagged lines, the manager validates with a TOTP step-up, and the member sees the result in "mes dossiers"."""

from __future__ import annotations

from sqlalchemy import select

from app.care.claims_models import CareInvoice
from app.care.models import ProviderUser
from app.extensions import db
from app.security.models import Account
from tenants.context import tenant_scope
from tests.app.care.test_invoices import TODAY, build_care
from tests.fixtures.app import PASSWORD
from tests.portal.conftest import last_code


def _plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_invoice_from_the_provider_to_the_members_portal(
    browser, live_server, app, world, make_staff, sign_in, monkeypatch
):
    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY)
    staff = make_staff(("FED-A", "provider_staff"), mfa_enrolled=False)
    adviser = make_staff(("FED-A", "medical_adviser"), mfa_enrolled=False)
    manager = make_staff(("FED-A", "mutual_manager"))
    with app.app_context():
        account_id = db.session.scalar(select(Account.id).where(Account.email == staff.email))
        with tenant_scope(db.session, world.alpha):
            care = build_care(db.session, world.alpha)
            db.session.add(ProviderUser(provider_id=care.provider.id, account_id=account_id))
            codes = {code: benefit.code for code, benefit in care.benefits.items()}
            number, principal_id = care.principal.number, care.principal.id
            first_names = care.principal.first_names
            db.session.commit()

    # 1. the provider's staff enters two visits (five lines) and submits
    desk = browser.new_page(viewport={"width": 360, "height": 740}, locale="fr-SN")
    desk.goto(f"{live_server}/connexion")
    desk.get_by_label("E-mail ou téléphone").fill(staff.email)
    desk.get_by_label("Mot de passe").fill(PASSWORD)
    desk.get_by_role("button", name="Se connecter").click()
    desk.wait_for_url(lambda url: "/connexion" not in url)
    desk.goto(f"{live_server}/alpha/soins/saisie")
    desk.get_by_label("Début de période").fill("2027-03-01")
    desk.get_by_label("Fin de période").fill("2027-03-31")
    desk.get_by_role("button", name="Nouvelle facture").click()
    desk.get_by_role("heading", name="Ajouter une prestation").wait_for()
    visits = [  # five lines: a duplicate on the first visit, an act not covered, one above a ceiling
        ("2027-03-05", f"{codes['CONS']}, 1, 3000\n{codes['OPT']}, 1, 30000\n{codes['CONS']}, 1, 3000"),
        ("2027-03-06", f"{codes['HOSP']}, 2, 15000"),
        ("2027-03-07", f"{codes['CONS']}, 1, 3000"),
    ]
    for day, lines in visits:
        desk.get_by_label("Numéro du bénéficiaire").fill(number)
        desk.get_by_label("Date des soins").fill(day)
        desk.get_by_label("Actes et médicaments").fill(lines)
        desk.get_by_label("Prescripteur").fill("Dr Ndiaye")
        desk.get_by_role("button", name="Ajouter").click()
        desk.get_by_text("Prestation ajoutée.").wait_for()
    desk.get_by_role("button", name="Soumettre la facture").click()
    desk.get_by_text("Facture soumise et contrôlée").wait_for()
    page = desk.content()
    assert "Plafond annuel du bénéficiaire atteint" in page  # 2 × 15 000 × 80 % = 24 000 > 20 000
    assert "Acte ou médicament non couvert par le produit" in page
    assert "Doublon" in page
    assert desk.evaluate("document.documentElement.scrollWidth") <= 360
    invoice_url = desk.url
    desk.close()
    public_id = invoice_url.rstrip("/").rsplit("/", 1)[1]
    with app.app_context(), tenant_scope(db.session, world.alpha):
        invoice_number = db.session.scalar(
            select(CareInvoice.number).where(CareInvoice.public_id == public_id)
        )

    # 2. the médecin-conseil reviews the flagged line (the ceiling): accepts the ceiling's amount
    doctor = browser.new_page(locale="fr-SN")
    sign_in(doctor, adviser.email)
    doctor.goto(f"{live_server}/alpha/soins/controle")
    doctor.get_by_label("Numéro de facture").fill(invoice_number)
    doctor.get_by_role("button", name="Filtrer").click()
    card = doctor.locator("article[data-line]").filter(has_text="Hospitalisation")
    assert doctor.locator("article[data-line]").count() == 1  # the one flagged line of this invoice
    card.get_by_label("Décision").select_option("confirm")
    card.get_by_label("Note").fill("Plafond atteint, conforme")
    card.get_by_role("button", name="Enregistrer la décision").click()
    doctor.get_by_text("Décision enregistrée.").wait_for()
    assert doctor.get_by_text("Aucune ligne n'attend de contrôle médical.").is_visible()
    doctor.close()

    # 3. the manager validates for payment, approving with a TOTP code
    office = browser.new_page(locale="fr-SN")
    sign_in(office, manager.email)
    office.goto(f"{live_server}/alpha/soins/factures/{public_id}")
    assert "Contrôlée" in office.content()
    office.get_by_role("button", name="Valider pour paiement").click()
    office.get_by_role("heading", name="Confirmer l'opération").wait_for()
    assert office.get_by_text(invoice_number).is_visible()
    office.get_by_label("Code").fill(manager.next_code())
    office.get_by_role("button", name="Confirmer").click()
    office.get_by_text(f"Facture {invoice_number} validée pour paiement.").wait_for()
    summary = _plain(office.inner_text("main"))
    assert "Validée" in summary and "24 800 F CFA" in summary  # 2 400 + 20 000 (the ceiling) + 2 400
    office.close()

    # 4. the member sees each line and its result in the portal
    phone = browser.new_page(viewport={"width": 360, "height": 740}, locale="fr-SN")
    phone.goto(f"{live_server}/alpha/portail/")
    phone.get_by_label("Numéro d'adhérent").fill(number)
    phone.get_by_role("button", name="Continuer").click()
    phone.get_by_role("heading", name="Code reçu par SMS").wait_for()
    phone.get_by_label("Code reçu par SMS").fill(last_code(app, world, principal_id) or "")
    phone.get_by_role("button", name="Se connecter").click()
    phone.get_by_role("heading", name=f"Bonjour {first_names}").wait_for()
    phone.goto(f"{live_server}/alpha/portail/dossiers")
    phone.get_by_role("heading", name="Mes dossiers").wait_for()
    dossiers = _plain(phone.inner_text("main"))
    assert "Hospitalisation" in dossiers and "Plafond annuel du bénéficiaire atteint" in dossiers
    assert "à votre charge 10 000 F CFA" in dossiers
    assert "Acte ou médicament non couvert par le produit" in dossiers
    phone.close()
