"""Products and versioned tariffs: validation next to the fields, history kept, the tariff of a day, the
step-up before a tariff change, and who may change products."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.contributions.models import Due, Subscription
from app.coverage import products
from app.coverage.models import Basis, Periodicity, Product, ProductVersion
from app.coverage.products import BandInput, FieldErrors, SubsidyInput, TariffInput
from app.database import local_today
from app.errors import DomainError, Forbidden
from app.members import services as members
from app.members.services import ConsentInput
from app.security.actor import Actor
from tests.app.coverage.conftest import in_alpha
from tests.app.members.conftest import person
from tests.fixtures.app import SYSTEM, node, unique
from tests.fixtures.security import step_up

D = dt.date
JANUARY = D(2026, 1, 1)
MANAGER = ("FED-A", "mutual_manager")
AGENT = ("ASS-A", "association_agent")


def tariff(**overrides: object) -> TariffInput:
    values: dict[str, object] = {
        "basis": "per_beneficiary", "amount": "2 000", "periodicity": "monthly", "joining_fee": "1000",
        "waiting_days": "90", "grace_days": "30", "subsidies": [SubsidyInput("État", "50", "")],
    }  # fmt: skip
    return TariffInput(**{**values, **overrides})  # type: ignore[arg-type]


def make_product(session: Session, world, *, valid_from: dt.date = JANUARY, **tariff_overrides) -> Product:
    product = products.create_product(
        session, world.alpha, SYSTEM, code=unique("P"), name="Produit de base", description="",
        valid_from=valid_from.strftime("%d/%m/%Y"), tariff=tariff(**tariff_overrides),
    )  # fmt: skip
    session.commit()
    return product


def errors_of(check) -> dict[str, str]:
    with pytest.raises(FieldErrors) as raised:
        check()
    return {name: str(message) for name, message in raised.value.errors.items()}


def plain(text: str) -> str:
    """Babel's narrow no-break spaces as plain spaces, to compare with what a person reads."""
    return re.sub(r"[\u00a0\u202f]", " ", text)


# --- validation --------------------------------------------------------------------------------------------


def test_a_tariff_is_read_from_what_was_typed(app):
    with app.app_context():
        clean = products.clean_tariff(
            tariff(
                amount="2 000", bands=[BandInput("", "0", "4", "1.000"), BandInput("age", "5", "120", "2000")]
            )
        )
        assert clean.basis is Basis.per_beneficiary and clean.periodicity is Periodicity.monthly
        assert clean.amount == 2000 and [(b.low, b.high, b.amount) for b in clean.bands] == [
            (0, 4, 1000),
            (5, 120, 2000),
        ]
        assert clean.subsidies[0].percent == 50 and clean.subsidies[0].amount is None
        summary = plain(products.describe_tariff(clean))
        assert "0–4 ans : 1 000 F CFA" in summary and "par bénéficiaire et par mois" in summary
        assert "carence 90 jours, grâce 30 jours, État : 50 %" in summary


def test_every_wrong_tariff_field_is_named(app):
    with app.app_context():
        errors = errors_of(
            lambda: products.clean_tariff(
                tariff(
                    periodicity="weekly", amount="2000,50", waiting_days="400", child_age_limit="0",
                    bands=[
                        BandInput("age", "0", "10", "1000"),
                        BandInput("", "", "", ""),  # a blank row is ignored
                        BandInput("age", "8", "20", "1500"),  # overlaps 0–10
                        BandInput("age", "30", "25", "1500"),  # ends before it starts
                    ],
                )
            )
        )  # fmt: skip
    assert "périodicité" in errors["periodicity"]
    assert "sans centimes" in errors["amount"]
    assert "au plus 365" in errors["waiting_days"]
    assert "au moins 1" in errors["child_age_limit"]
    assert "chevauche la tranche de 0 à 10" in errors["bands-2-low"]
    assert "au moins égale à son début" in errors["bands-3-high"]
    assert "bands-1-low" not in errors


def test_subsidies_never_exceed_the_contribution(app):
    with app.app_context():
        flat = errors_of(
            lambda: products.clean_tariff(
                tariff(
                    amount="1000",
                    subsidies=[SubsidyInput("État", "50", ""), SubsidyInput("Commune", "", "600")],
                )
            )
        )
        assert plain(flat["subsidies-1-amount"]) == (
            "Les subventions (1 100 F CFA) dépasseraient la cotisation de 1 000 F CFA."
        )
        # Fine on the flat amount, too much on a cheaper band.
        banded = errors_of(
            lambda: products.clean_tariff(
                tariff(amount="2000", bands=[BandInput("age", "0", "4", "500")],
                       subsidies=[SubsidyInput("État", "", "800")])
            )
        )  # fmt: skip
        assert "500 F CFA" in plain(banded["subsidies-0-amount"])
        both = errors_of(
            lambda: products.clean_tariff(
                tariff(subsidies=[SubsidyInput("État", "50", "100"), SubsidyInput("", "120", "")])
            )
        )
        assert "l'un des deux" in both["subsidies-0-percent"] and "subventionne" in both["subsidies-1-funder"]
        assert "au plus 100" in both["subsidies-1-percent"]


def test_bands_must_fit_the_basis(app):
    with app.app_context():
        errors = errors_of(
            lambda: products.clean_tariff(
                tariff(basis="per_household", bands=[BandInput("age", "0", "5", "1000")])
            )
        )
        assert "taille du foyer" in errors["bands-0-dimension"]
        clean = products.clean_tariff(
            tariff(
                basis="per_household",
                bands=[BandInput("", "1", "4", "3000"), BandInput("", "5", "10", "5000")],
            )
        )
        assert [b.dimension.value for b in clean.bands] == ["household_size", "household_size"]


def test_product_fields_are_checked_with_the_tariff(alpha, world):
    code = make_product(alpha, world).code
    errors = errors_of(
        lambda: products.create_product(
            alpha, world.alpha, SYSTEM, code=code.lower(), name="", valid_from="31/02/2026",
            tariff=tariff(basis="x"),
        )
    )  # fmt: skip
    assert "déjà ce code" in errors["code"] and "nom" in errors["name"]
    assert "n'existe pas" in errors["valid_from"] and "base" in errors["basis"]


# --- versions ----------------------------------------------------------------------------------------------


def test_a_tariff_change_is_a_new_version_and_the_history_stays(alpha, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2026-03-15")
    product = make_product(alpha, world)
    assert [(v.number, v.effective_from, v.amount) for v in product.versions] == [(1, D(2026, 1, 1), 2000)]

    products.new_version(
        alpha, world.alpha, SYSTEM, product, tariff(amount="2500", grace_days="15"), "01/07/2026",
        "Hausse votée en AG",
    )  # fmt: skip
    alpha.commit()
    alpha.expire_all()
    product = alpha.get(Product, product.id)
    assert [(v.number, v.amount, v.grace_days) for v in product.versions] == [(1, 2000, 30), (2, 2500, 15)]
    assert product.version_on(D(2025, 12, 31)) is None
    assert product.version_on(D(2026, 6, 30)).number == 1
    assert product.version_on(D(2026, 7, 1)).number == 2
    assert product.version_on(D(2030, 1, 1)).number == 2

    event = alpha.scalar(
        select(TenantAuditEvent)
        .where(TenantAuditEvent.action == "products.tariff_changed")
        .where(TenantAuditEvent.target_id == product.code)
    )
    assert event.details["before"]["amount"] == 2000 and event.details["after"]["amount"] == 2500
    assert event.details["after"]["effective_from"] == "2026-07-01"
    assert event.details["reason"] == "Hausse votée en AG"


def test_a_new_version_starts_after_the_latest_and_never_rewrites_called_dues(alpha, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2026-03-15")
    product = make_product(alpha, world)
    errors = errors_of(
        lambda: products.new_version(
            alpha, world.alpha, SYSTEM, product, tariff(amount="3000"), "01/01/2026", "x"
        )
    )
    assert "après le 01/01/2026" in errors["effective_from"]
    with pytest.raises(DomainError, match="identique"):
        products.new_version(alpha, world.alpha, SYSTEM, product, tariff(), "01/02/2026", "rien")

    # No dues yet: a date in the past is still fine (setting up a product that already ran on paper).
    products.new_version(
        alpha, world.alpha, SYSTEM, product, tariff(amount="2100"), "01/02/2026", "Rattrapage"
    )
    alpha.commit()

    member = members.enrol(
        alpha, world.alpha, SYSTEM, person=person(), association_id=node("ASS-A").id, sector="artisanat",
        consent=ConsentInput(given_on=local_today()), allow_duplicates=True,
    )  # fmt: skip
    subscription = Subscription(member_id=member.id, product_id=product.id, start_date=D(2026, 2, 1))
    alpha.add(subscription)
    alpha.flush()
    alpha.add(
        Due(subscription_id=subscription.id, member_id=member.id, version_id=product.versions[-1].id,
            period_start=D(2026, 2, 1), period_end=D(2026, 2, 28), due_date=D(2026, 2, 1), amount=2100,
            member_amount=1050, subsidy_amount=1050)
    )  # fmt: skip
    alpha.commit()

    errors = errors_of(
        lambda: products.new_version(
            alpha, world.alpha, SYSTEM, product, tariff(amount="2200"), "01/03/2026", "x"
        )
    )
    assert "avant aujourd'hui (15/03/2026)" in errors["effective_from"]
    alpha.rollback()
    version = products.new_version(
        alpha, world.alpha, SYSTEM, product, tariff(amount="2200"), "15/03/2026", "Hausse"
    )
    assert version.number == 3


def test_only_managers_of_the_mutual_change_products(alpha, world):
    product = make_product(alpha, world)
    agent = Actor(account_id=None, label="agent", scopes=((node("ASS-A").path, frozenset({"members.read"})),))
    other = Actor(account_id=None, label="b", scopes=((node("FED-B").path, frozenset({"products.manage"})),))
    assert [p.code for p in products.list_products(alpha, world.alpha, agent) if p.id == product.id]
    for actor in (agent, other):
        with pytest.raises(Forbidden):
            products.new_version(alpha, world.alpha, actor, product, tariff(amount="9000"), "01/01/2030", "x")
    with pytest.raises(Forbidden):
        products.list_products(alpha, world.alpha, other)


# --- screens -----------------------------------------------------------------------------------------------


def _form(**overrides: str) -> dict[str, str]:
    data = {
        "basis": "per_beneficiary", "amount": "2000", "periodicity": "monthly", "joining_fee": "0",
        "waiting_days": "90", "grace_days": "30", "max_beneficiaries": "", "child_age_limit": "",
        "subsidies-0-funder": "État", "subsidies-0-percent": "50", "subsidies-0-amount": "",
    }  # fmt: skip
    return {**data, **overrides}


def _versions(app, world, public_id: str) -> list[tuple[int, int]]:
    with in_alpha(app, world) as session:
        product = session.scalar(select(Product).where(Product.public_id == public_id))
        return [(v.number, v.amount) for v in product.versions]


def _created(app, world, code: str) -> str:
    with in_alpha(app, world) as session:
        return session.scalar(select(Product.public_id).where(Product.code == code))


def test_the_list_shows_each_tariff_in_plain_french(app, world, login, make_staff, monkeypatch):
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2026-03-15")
    client = login(make_staff(MANAGER, mfa_enrolled=False).email)
    code = unique("P")
    created = client.post(
        "/alpha/produits/nouveau",
        data={"code": code, "name": "Famille", "valid_from": "01/01/2026", **_form()},
    )
    assert created.status_code == 302, created.get_data(as_text=True)[:2000]
    page = plain(client.get("/alpha/produits/").get_data(as_text=True))
    assert "2 000 F CFA par bénéficiaire et par mois, carence 90 jours, grâce 30 jours, État : 50 %" in page
    assert "Valable à partir du 01/01/2026" in page


def test_bad_input_comes_back_next_to_the_fields_with_what_was_typed(app, world, login, make_staff):
    client = login(make_staff(MANAGER, mfa_enrolled=False).email)
    response = client.post(
        "/alpha/produits/nouveau",
        data={"code": "fam ille!", "name": "Famille", "valid_from": "01/01/2026", **_form(
            periodicity="weekly", **{"bands-0-low": "0", "bands-0-high": "10", "bands-0-amount": "1000",
                                     "bands-1-low": "5", "bands-1-high": "20", "bands-1-amount": "1500",
                                     "subsidies-0-percent": "", "subsidies-0-amount": "5000"})},
    )  # fmt: skip
    body = plain(response.get_data(as_text=True))
    assert response.status_code == 422
    assert re.search(r'id="periodicity-error">Choisissez une périodicité', body)
    assert re.search(r'id="bands-1-low-error">Cette tranche chevauche la tranche de 0 à 10', body)
    assert re.search(r'id="subsidies-0-amount-error">Les subventions \(5 000 F CFA\) dépasseraient', body)
    assert re.search(r'id="code-error">Code : lettres', body)
    assert 'value="1500"' in body and 'value="Famille"' in body


def test_a_tariff_change_asks_for_a_step_up_and_does_nothing_before_it(
    app, world, login, make_staff, monkeypatch
):
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2026-03-15")
    manager = make_staff(MANAGER)
    client = login(manager.email)
    code = unique("P")
    client.post(
        "/alpha/produits/nouveau", data={"code": code, "name": "Base", "valid_from": "01/01/2026", **_form()}
    )
    public_id = _created(app, world, code)
    url = f"/alpha/produits/{public_id}/tarif"
    assert "2000" in client.get(url).get_data(as_text=True)  # the form starts from the latest tariff

    refused = client.post(url, data={**_form(amount="2500"), "effective_from": "01/01/2026", "reason": "x"})
    assert refused.status_code == 422 and "après le 01/01/2026" in refused.get_data(as_text=True)

    data = {**_form(amount="2500"), "effective_from": "01/07/2026", "reason": "Hausse votée en AG"}
    asked = client.post(url, data=data)
    assert asked.status_code == 303 and "/securite/confirmation/" in asked.headers["Location"]
    assert _versions(app, world, public_id) == [(1, 2000)]  # nothing before the confirmation
    confirmation = plain(client.get(asked.headers["Location"]).get_data(as_text=True))
    assert "Changer un tarif" in confirmation and "2 500 F CFA par bénéficiaire et par mois" in confirmation

    token = step_up(client, asked, manager.next_code())
    changed = client.post(url, data={**data, "amount": "3000", "_stepup": token})
    assert changed.status_code == 303, "an approval covers the confirmed amounts only"
    assert _versions(app, world, public_id) == [(1, 2000)]

    token = step_up(client, client.post(url, data=data), manager.next_code())
    done = client.post(url, data={**data, "_stepup": token})
    assert done.status_code == 302
    assert _versions(app, world, public_id) == [(1, 2000), (2, 2500)]
    page = plain(client.get(f"/alpha/produits/{public_id}").get_data(as_text=True))
    assert "Hausse votée en AG" in page and "à venir" in page and "en vigueur" in page


def test_an_association_agent_reads_products_but_cannot_change_them(app, world, login, make_staff):
    with in_alpha(app, world) as session:
        product = make_product(session, world)
        public_id = product.public_id
    client = login(make_staff(AGENT, mfa_enrolled=False).email)
    assert client.get("/alpha/produits/").status_code == 200
    page = client.get(f"/alpha/produits/{public_id}").get_data(as_text=True)
    assert "Changer le tarif" not in page
    assert client.get("/alpha/produits/nouveau").status_code == 403
    assert client.post("/alpha/produits/nouveau", data={"code": "X", **_form()}).status_code == 403
    assert client.get(f"/alpha/produits/{public_id}/tarif").status_code == 403
    assert client.post(f"/alpha/produits/{public_id}/tarif", data=_form(amount="1")).status_code == 403
    assert client.post(f"/alpha/produits/{public_id}/modifier", data={"name": "X"}).status_code == 403
    assert _versions(app, world, public_id) == [(1, 2000)]


def test_staff_of_another_mutual_are_refused(app, world, login):
    client = login("manager.b@test.sn")
    assert client.get("/alpha/produits/").status_code == 403


def test_product_details_are_edited_and_audited(app, world, login, make_staff):
    with in_alpha(app, world) as session:
        product = make_product(session, world)
        public_id, code = product.public_id, product.code
    client = login(make_staff(MANAGER, mfa_enrolled=False).email)
    bad = client.post(
        f"/alpha/produits/{public_id}/modifier", data={"name": "Base", "valid_to": "31/12/2025"}
    )
    assert bad.status_code == 422 and "doit suivre le début" in bad.get_data(as_text=True)
    ok = client.post(
        f"/alpha/produits/{public_id}/modifier", data={"name": "Base 2026", "valid_to": "31/12/2026"}
    )
    assert ok.status_code == 302
    with in_alpha(app, world) as session:
        event = session.scalar(
            select(TenantAuditEvent).where(
                TenantAuditEvent.action == "products.updated", TenantAuditEvent.target_id == code
            )
        )
        assert event.details["before"]["name"] == "Produit de base"
        assert event.details["after"] == {"name": "Base 2026", "valid_to": "2026-12-31"}
        assert session.scalar(select(ProductVersion.id).where(ProductVersion.number == 1)) is not None
