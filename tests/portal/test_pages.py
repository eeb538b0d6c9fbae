"""The portal's pages, as a member sees them: their own household only, nothing of another household or
another mutual; every read of personal data audited as the member."""

from __future__ import annotations

from sqlalchemy import func, select

from app.audit.models import TenantAuditEvent
from app.contributions import payments
from app.contributions.models import Payment
from app.extensions import db
from app.members.models import Member
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM


def _reads(app, world, number: str, page: str | None = None) -> int:
    with app.app_context(), tenant_scope(db.session, world.alpha):
        query = select(func.count()).select_from(TenantAuditEvent).where(
            TenantAuditEvent.action == "read.member", TenantAuditEvent.target_id == number,
            TenantAuditEvent.actor_label.like("adhérent %"),
        )  # fmt: skip
        if page is not None:
            query = query.where(TenantAuditEvent.details["page"].as_string() == page)
        return db.session.scalar(query)


def test_every_page_answers_for_a_signed_in_adherent(app, world, make_household, portal_sign_in):
    household = make_household(dues=(5, 6))
    client = portal_sign_in(household.principal)
    for path, expected in (
        ("", "Bonjour"),
        ("droits", "Mes droits aujourd"),
        ("foyer", "Mon foyer"),
        ("carte", "QR code"),
        ("cotisations", "Payer maintenant"),
        ("dossiers", "aucun dossier de soins"),
        ("mes-donnees", "Consentement"),
    ):
        response = client.get(f"/alpha/portail/{path}")
        assert response.status_code == 200, path
        assert expected in response.get_data(as_text=True), path
        assert response.headers["Cache-Control"] == "no-store", path


def test_rights_say_in_plain_words_who_is_covered_and_why_not(app, world, make_household, portal_sign_in):
    household = make_household(dues=(1, 2, 3, 4, 5))
    client = portal_sign_in(household.principal)
    page = client.get("/alpha/portail/droits").get_data(as_text=True)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        names = [
            db.session.get(Member, p.id).full_name
            for p in (household.principal, household.spouse, household.child)
        ]
    for name in names:  # the adhérent sees the whole household, the child included
        assert name in page
    assert "Non couvert" in page or "pas couvert" in page.lower() or "impayé" in page.lower()
    assert _reads(app, world, household.child.number) >= 1


def test_the_households_dossiers_are_a_read_of_each_persons_record(
    app, world, make_household, portal_sign_in
):
    household = make_household()
    spouse = portal_sign_in(household.spouse)
    assert spouse.get("/alpha/portail/dossiers").status_code == 200
    assert _reads(app, world, household.child.number, page="dossiers") == 0  # not shown to the spouse
    adherent = portal_sign_in(household.principal)
    assert adherent.get("/alpha/portail/dossiers").status_code == 200
    assert _reads(app, world, household.principal.number, page="dossiers") == 1
    assert _reads(app, world, household.spouse.number, page="dossiers") == 2  # once by each
    assert _reads(app, world, household.child.number, page="dossiers") == 1


def test_an_adult_ayant_droit_sees_only_themself_until_the_adherent_shares(
    app, world, make_household, portal_sign_in
):
    household = make_household(dues=(6,))
    spouse = portal_sign_in(household.spouse)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        child_name = db.session.get(Member, household.child.id).full_name
    assert child_name not in spouse.get("/alpha/portail/foyer").get_data(as_text=True)
    assert child_name not in spouse.get("/alpha/portail/droits").get_data(as_text=True)
    assert "Payer maintenant" not in spouse.get("/alpha/portail/cotisations").get_data(as_text=True)
    assert spouse.post("/alpha/portail/cotisations/payer").status_code == 404

    adherent = portal_sign_in(household.principal)
    assert adherent.post("/alpha/portail/foyer/partage", data={"share": "y"}).status_code == 303
    assert child_name in spouse.get("/alpha/portail/foyer").get_data(as_text=True)
    assert "Payer maintenant" in spouse.get("/alpha/portail/cotisations").get_data(as_text=True)
    assert spouse.post("/alpha/portail/foyer/partage", data={}).status_code == 404  # not theirs to change
    assert child_name in spouse.get("/alpha/portail/foyer").get_data(as_text=True)


def test_a_member_never_sees_another_household(app, world, make_household, portal_sign_in):
    mine, theirs = make_household(dues=(6,)), make_household(dues=(6,))
    with app.app_context(), tenant_scope(db.session, world.alpha):
        payment = payments.record_payment(
            db.session, world.alpha, SYSTEM, db.session.get(Member, theirs.principal.id), amount=2000
        )
        db.session.commit()
        their_receipt, their_name = payment.public_id, db.session.get(Member, theirs.principal.id).full_name
    client = portal_sign_in(mine.principal)
    for path in ("", "droits", "foyer", "cotisations", "mes-donnees"):
        assert their_name not in client.get(f"/alpha/portail/{path}").get_data(as_text=True), path
    assert client.get(f"/alpha/portail/cotisations/recu/{their_receipt}.pdf").status_code == 404


def test_a_portal_session_does_not_open_another_mutuals_portal(app, world, make_household, portal_sign_in):
    household = make_household()
    client = portal_sign_in(household.principal)
    assert client.get("/alpha/portail/").status_code == 200
    other = client.get("/beta/portail/")
    assert other.status_code == 302 and "/beta/portail/connexion" in other.headers["Location"]
    # the same number typed on the other mutual's portal matches nobody there
    client.post("/beta/portail/connexion", data={"number": household.principal.number})
    from tests.portal.conftest import last_code

    assert last_code(app, world, household.principal.id, "beta") is None


def test_the_card_pdf_the_receipts_and_my_data(app, world, make_household, portal_sign_in):
    household = make_household(dues=(6,))
    with app.app_context(), tenant_scope(db.session, world.alpha):
        payments.record_payment(
            db.session, world.alpha, SYSTEM, db.session.get(Member, household.principal.id), amount=2000
        )
        db.session.commit()
        receipt = db.session.scalar(
            select(Payment.public_id).where(Payment.member_id == household.principal.id)
        )
    client = portal_sign_in(household.principal)
    card = client.get("/alpha/portail/carte.pdf")
    assert card.status_code == 200 and card.data[:5] == b"%PDF-"
    assert client.get("/alpha/portail/cartes-foyer.pdf").data[:5] == b"%PDF-"
    assert client.get(f"/alpha/portail/cotisations/recu/{receipt}.pdf").data[:5] == b"%PDF-"
    assert client.get("/alpha/portail/mes-donnees.pdf").data[:5] == b"%PDF-"
    exported = client.get("/alpha/portail/mes-donnees.json").get_json()
    assert [p["number"] for p in exported["household"]][0] == household.principal.number


def test_htmx_navigation_gets_only_the_main_part(app, world, make_household, portal_sign_in):
    household = make_household()
    client = portal_sign_in(household.principal)
    full = client.get("/alpha/portail/droits").get_data(as_text=True)
    part = client.get("/alpha/portail/droits", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert full.startswith("<!doctype html>") and "<head>" in full
    assert part.startswith("<title>") and "<head>" not in part and '<main id="main">' in part
    assert len(part) < len(full)


def test_messages_and_preferences_on_the_portal(app, world, make_household, portal_sign_in):
    household = make_household()
    client = portal_sign_in(household.principal)  # the first sign-in writes the welcome message
    home = client.get("/alpha/portail/").get_data(as_text=True)
    assert 'class="new"' in home
    assert 'class="new"' not in client.get("/alpha/portail/").get_data(as_text=True)  # read once shown

    saved = client.post(
        "/alpha/portail/mes-donnees",
        data={"form": "preferences", "locale": "en", "email": "fatou@example.sn", "sms_enabled": "y",
              "email_enabled": "y", "portal_enabled": "y"},
    )  # fmt: skip
    assert saved.status_code == 303
    page = client.get("/alpha/portail/mes-donnees").get_data(as_text=True)
    assert 'value="fatou@example.sn"' in page
    refused = client.post(
        "/alpha/portail/mes-donnees", data={"form": "preferences", "locale": "fr", "email": "pas-une-adresse"}
    )
    assert refused.status_code == 422 and 'value="pas-une-adresse"' in refused.get_data(as_text=True)


def test_an_expired_session_sends_htmx_to_the_sign_in_page(app, world, make_household, portal_sign_in):
    household = make_household()
    client = portal_sign_in(household.principal)
    with client.session_transaction() as state:
        stamp = dict(state["mbolo_portal"])
        stamp["at"] -= 13 * 3600
        state["mbolo_portal"] = stamp
    response = client.get("/alpha/portail/droits", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "/alpha/portail/connexion" in response.headers["HX-Redirect"]
