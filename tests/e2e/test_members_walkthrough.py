"""A real browser on a phone: an association agent enrols an adhérent with two ayants droit, meets the
duplicate warning on a near-duplicate, prints the card PDF; the card's token verifies, a tampered one
does not."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from app.database import local_today
from app.extensions import db
from app.members import cards
from app.members.models import Member
from tenants.context import tenant_scope


def _enrol_on_screen(
    page, live_server, *, last_name, first_names, birth, dependants=(), confirm_duplicate=False
):
    page.goto(f"{live_server}/alpha/adherents/")
    page.get_by_role("link", name="Nouvelle inscription").click()
    page.get_by_label("Nom", exact=True).fill(last_name)
    page.get_by_label("Prénom(s)").fill(first_names)
    page.get_by_label("Femme").check()
    page.get_by_label("Date de naissance").fill(birth)
    page.get_by_role("button", name="Continuer").click()
    page.get_by_label("Téléphone", exact=True).fill("77 612 34 56" if not dependants else "76 000 11 22")
    page.get_by_label("Métier").select_option("couturier")
    page.get_by_role("button", name="Continuer").click()
    for relation, first, sex, born in dependants:
        page.get_by_label("Lien avec l'adhérent").select_option(relation)
        page.get_by_label("Nom", exact=True).fill(last_name)
        page.get_by_label("Prénom(s)").fill(first)
        page.get_by_label(sex).check()
        page.get_by_label("Date de naissance").fill(born)
        page.get_by_role("button", name="Ajouter").click()
        page.get_by_text("Ayant droit ajouté.").wait_for()
    page.get_by_role("link", name="Continuer").click()
    page.get_by_label("L'adhérent accepte").check()
    page.get_by_role("button", name="Continuer").click()
    page.get_by_role("button", name="Enregistrer l'inscription").click()


def test_an_agent_enrols_a_household_meets_a_duplicate_and_prints_a_verifiable_card(
    browser, live_server, app, world, make_staff, sign_in
):
    agent = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    family = f"Ndour{uuid.uuid4().hex[:5]}"
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-SN")
    sign_in(page, agent.email)

    _enrol_on_screen(
        page, live_server, last_name=family, first_names="Seynabou", birth="14/02/1979",
        dependants=(("spouse", "Mamadou", "Homme", "vers 1975"), ("child", "Rokhaya", "Femme", "03/09/2014")),
    )  # fmt: skip
    page.get_by_text("Inscription enregistrée").wait_for()
    assert page.get_by_text("Mamadou").is_visible() and page.get_by_text("Rokhaya").is_visible()
    member_url = page.url

    # The same woman typed slightly differently: the warning comes before anything is saved.
    _enrol_on_screen(page, live_server, last_name=family[:-1], first_names="Seynabu", birth="vers 1979")
    page.get_by_role("heading", name="Cette personne est peut-être déjà inscrite").wait_for()
    assert page.get_by_role("link", name=f"Seynabou {family.upper()}").is_visible()

    page.goto(member_url)
    card_link = page.get_by_role("link", name="Carte (PDF)")
    card = page.request.get(f"{live_server}{card_link.get_attribute('href')}")  # with the agent's session
    assert card.ok and card.headers["content-type"] == "application/pdf" and card.body()[:5] == b"%PDF-"

    with app.app_context(), tenant_scope(db.session, world.alpha):
        member = db.session.scalar(select(Member).where(Member.public_id == member_url.rsplit("/", 1)[1]))
        token = cards.card_token(
            db.session, world.alpha, member, valid_until=local_today() + dt.timedelta(days=365)
        )
        db.session.commit()
    checker = browser.new_page(
        viewport={"width": 390, "height": 844}, locale="fr-SN"
    )  # a provider, not signed in
    checker.goto(f"{live_server}/alpha/verify/{token}")
    checker.get_by_role("heading", name="Carte valide").wait_for()
    assert checker.get_by_text("Seynabou").is_visible()
    assert not checker.get_by_text("14/02/1979").is_visible()
    head, payload, signature = token.split(".")
    tampered = ".".join((head, payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1], signature))
    checker.goto(f"{live_server}/alpha/verify/{tampered}")
    checker.get_by_role("heading", name="Carte invalide").wait_for()
