"""The benefits catalogue, the essential-medicines import (every rejected line reported, idempotent) and the
coverage rules of a benefit in a product (validated, audited, confirmed by a step-up)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.coverage import benefits, products
from app.coverage.benefits import BenefitInput
from app.coverage.models import Benefit, BenefitCategory, Product, ProductBenefit
from app.coverage.products import FieldErrors, SubsidyInput, TariffInput
from app.errors import FieldError, Forbidden
from app.security.actor import Actor
from tests.app.coverage.conftest import in_alpha
from tests.fixtures.app import SYSTEM, node, unique
from tests.fixtures.security import step_up

SAMPLE = Path(__file__).parents[3] / "app" / "coverage" / "data" / "essential_medicines_sample.csv"
MANAGER = ("FED-A", "mutual_manager")
AGENT = ("ASS-A", "association_agent")


def make_product(session: Session, world) -> Product:
    product = products.create_product(
        session, world.alpha, SYSTEM, code=unique("P"), name="Produit", valid_from="01/01/2026",
        tariff=TariffInput(basis="per_household", amount="6000", periodicity="quarterly",
                           subsidies=[SubsidyInput("État", "50")]),
    )  # fmt: skip
    session.commit()
    return product


def make_benefit(session: Session, world, category: str = "optical", **overrides: str) -> Benefit:
    values = {"code": unique("B"), "name": "Lunettes", "category": category, "reference_price": "25000"}
    benefit = benefits.create_benefit(session, world.alpha, SYSTEM, BenefitInput(**{**values, **overrides}))
    session.commit()
    return benefit


def errors_of(check) -> dict[str, str]:
    with pytest.raises(FieldErrors) as raised:
        check()
    return {name: str(message) for name, message in raised.value.errors.items()}


def medicines_csv(lines: list[str], *, encoding: str = "utf-8", delimiter: str = ";") -> bytes:
    return "\r\n".join(line.replace(";", delimiter) for line in lines).encode(encoding)


# --- catalogue ---------------------------------------------------------------------------------------------


def test_catalogue_entries_are_checked(alpha, world):
    code = make_benefit(alpha, world).code
    with pytest.raises(FieldError, match="déjà ce code"):
        benefits.create_benefit(
            alpha, world.alpha, SYSTEM, BenefitInput(code=code.lower(), name="X", category="optical")
        )
    errors = errors_of(
        lambda: benefits.clean_benefit(
            BenefitInput(code="a b/c", name="", category="medicine", reference_price="12,5")
        )
    )
    assert set(errors) == {"code", "inn", "form", "reference_price"}
    medicine = benefits.clean_benefit(
        BenefitInput(
            code="m1", name="", category="medicine", inn="Paracétamol", form="comprimé", strength="500 mg"
        )
    )
    assert medicine.code == "M1" and medicine.name == "Paracétamol 500 mg comprimé"
    act = benefits.clean_benefit(
        BenefitInput(code="c1", name="Consultation", category="consultation", inn="x")
    )
    assert act.inn is None  # only medicines carry an INN


# --- the medicines import ----------------------------------------------------------------------------------


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Benefit))


def test_the_sample_list_imports_and_importing_it_again_changes_nothing(alpha, world):
    before = _count(alpha)
    data = SAMPLE.read_bytes()
    first = benefits.import_medicines_csv(alpha, world.alpha, SYSTEM, data, filename=SAMPLE.name)
    alpha.commit()
    assert first.rejected == [] and first.created + first.updated + first.unchanged == 42
    amox = alpha.scalar(select(Benefit).where(Benefit.code == "MED-AMOX-500"))
    assert (amox.inn, amox.form, amox.strength, amox.reference_price, amox.category) == (
        "Amoxicilline", "gélule", "500 mg", 60, BenefitCategory.medicine,
    )  # fmt: skip
    assert amox.name == "Amoxicilline 500 mg gélule"

    again = benefits.import_medicines_csv(alpha, world.alpha, SYSTEM, io.BytesIO(data), filename=SAMPLE.name)
    alpha.commit()
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 42, [])
    assert _count(alpha) == before + first.created


def test_rejected_lines_are_reported_and_a_list_without_codes_is_idempotent(alpha, world):
    token = unique("")
    act = make_benefit(alpha, world, category="consultation", name="Consultation")
    lines = [
        "DCI,Forme,Dosage,Prix (F CFA)",
        f"Ibuprofène {token},comprimé,200 mg,30",
        ",comprimé,500 mg,25",  # no INN
        f'Métformine {token},comprimé,850 mg,"12,50"',  # cents
        "",  # a blank line is skipped
        f"Ibuprofène {token},Comprime,200mg,35",  # the same medicine as line 2 (case, accents, spaces)
        f"Céfixime {token},,200 mg,500",  # no form
        f'Oméprazole {token},gélule,20 mg,"1 500,00"',  # zero cents are fine
    ]
    data = medicines_csv(lines, encoding="cp1252", delimiter=",")
    report = benefits.import_medicines_csv(alpha, world.alpha, SYSTEM, data, filename="liste.csv")
    alpha.commit()
    assert (report.created, report.updated) == (2, 0)
    reasons = dict(report.rejected)
    assert sorted(reasons) == [3, 4, 6, 7]
    assert "DCI" in reasons[3] and "centimes" in reasons[4]
    assert "double (déjà ligne 2)" in reasons[6] and "forme" in reasons[7].lower()
    omeprazole = alpha.scalar(select(Benefit).where(Benefit.inn == f"Oméprazole {token}"))
    assert omeprazole.reference_price == 1500 and omeprazole.code.startswith("MED-")

    # Fixed lines and a new price: matched by INN + form + strength, nothing duplicated.
    fixed = [
        "DCI;Forme;Dosage;Prix",
        f"Ibuprofène {token};comprimé;200 mg;40",
        f"Métformine {token};comprimé;850 mg;15",
        f"Oméprazole {token};gélule;20 mg;1500",
        f"Céfixime {token};gélule;200 mg;500",
    ]
    again = benefits.import_medicines_csv(
        alpha, world.alpha, SYSTEM, medicines_csv(fixed), filename="liste.csv"
    )
    alpha.commit()
    assert (again.created, again.updated, again.unchanged, again.rejected) == (2, 1, 1, [])
    ibuprofen = alpha.scalars(select(Benefit).where(Benefit.inn == f"Ibuprofène {token}")).all()
    assert [b.reference_price for b in ibuprofen] == [40]

    clash = medicines_csv(["Code;DCI;Forme;Dosage", f"{act.code};Paracétamol {token};comprimé;1 g"])
    report = benefits.import_medicines_csv(alpha, world.alpha, SYSTEM, clash)
    assert report.rejected == [(2, "Ce code est celui d'une prestation qui n'est pas un médicament.")]
    event = alpha.scalar(
        select(TenantAuditEvent)
        .where(TenantAuditEvent.action == "benefits.medicines_imported")
        .where(TenantAuditEvent.target_id == "liste.csv")
        .order_by(TenantAuditEvent.seq.desc())
    )
    assert next(iter(event.details["updated"].values()))["after"]["reference_price"] == 40


def test_a_file_without_the_columns_is_refused_whole(alpha, world):
    with pytest.raises(FieldError, match="Colonnes attendues"):
        benefits.import_medicines_csv(alpha, world.alpha, SYSTEM, medicines_csv(["Nom;Prix", "X;1"]))
    with pytest.raises(FieldError, match="CSV"):
        benefits.import_medicines_csv(alpha, world.alpha, SYSTEM, b"PK\x03\x04 an xlsx")


# --- coverage rules ----------------------------------------------------------------------------------------


def test_coverage_rules_are_validated(app):
    with app.app_context():
        errors = errors_of(
            lambda: benefits.clean_coverage(
                rate_percent="120", ceiling_per_act="-5", frequency_count="1", min_age="60", max_age="18",
                sex="X",
            )
        )  # fmt: skip
        assert "au plus 100" in errors["rate_percent"] and "négatif" in errors["ceiling_per_act"]
        assert "période" in errors["frequency_months"] and "âge minimum" in errors["max_age"]
        assert "femmes, hommes" in errors["sex"]
        assert (
            "nombre d'actes"
            in errors_of(lambda: benefits.clean_coverage(frequency_months="24"))["frequency_count"]
        )
        annual = errors_of(
            lambda: benefits.clean_coverage(ceiling_per_act="10000", ceiling_per_beneficiary_year="5000")
        )
        assert "plus bas que le plafond par acte" in annual["ceiling_per_beneficiary_year"]
        rules = benefits.clean_coverage(
            rate_percent="70 %", ceiling_per_act="30 000", frequency_count="1", frequency_months="24",
            sex="f", prior_approval="on",
        )  # fmt: skip
        assert (rules.rate_percent, rules.ceiling_per_act, rules.sex, rules.prior_approval) == (
            70,
            30000,
            "F",
            True,
        )
        with pytest.raises(TypeError):
            benefits.clean_coverage(rate="80")


def test_a_benefit_is_covered_then_excluded_with_before_and_after_audited(alpha, world):
    product, glasses = make_product(alpha, world), make_benefit(alpha, world)
    row = benefits.set_product_benefit(
        alpha, world.alpha, SYSTEM, product, glasses, rate_percent="80", ceiling_per_act="30000",
        frequency_count="1", frequency_months="24",
    )  # fmt: skip
    alpha.commit()
    assert (row.covered, row.rate_percent, row.ceiling_per_act) == (True, 80, 30000)
    text = re.sub(r"[\u00a0\u202f]", " ", benefits.describe_coverage(row))
    assert text == "80 % (ticket modérateur 20 %), plafond 30 000 F CFA par acte, 1 tous les 24 mois"

    benefits.set_product_benefit(
        alpha, world.alpha, SYSTEM, product, glasses, rate_percent="60", ceiling_per_act="30000",
        frequency_count="1", frequency_months="24",
    )  # fmt: skip
    benefits.exclude_benefit(alpha, world.alpha, SYSTEM, product, glasses)
    alpha.commit()
    rows = alpha.scalars(select(ProductBenefit).where(ProductBenefit.product_id == product.id)).all()
    assert [(r.covered, r.rate_percent) for r in rows] == [(False, 60)]  # the rules stay for a later cover

    events = alpha.scalars(
        select(TenantAuditEvent)
        .where(TenantAuditEvent.target_id == f"{product.code}/{glasses.code}")
        .order_by(TenantAuditEvent.seq)
    ).all()  # fmt: skip
    assert [e.action for e in events] == [
        "products.coverage_set", "products.coverage_set", "products.coverage_excluded",
    ]  # fmt: skip
    assert events[0].details.get("before") is None and events[0].details["after"]["rate_percent"] == 80
    assert events[1].details["before"] == {"rate_percent": 80} and events[1].details["after"] == {
        "rate_percent": 60
    }
    assert events[2].details["before"] == {"covered": True} and events[2].details["after"] == {
        "covered": False
    }


def test_only_managers_change_the_catalogue_and_coverage(alpha, world):
    product, glasses = make_product(alpha, world), make_benefit(alpha, world)
    agent = Actor(account_id=None, label="agent", scopes=((node("ASS-A").path, frozenset({"members.read"})),))
    assert benefits.list_benefits(alpha, world.alpha, agent, category="optical").total >= 1
    with pytest.raises(Forbidden):
        benefits.set_product_benefit(alpha, world.alpha, agent, product, glasses, rate_percent="100")
    with pytest.raises(Forbidden):
        benefits.import_medicines_csv(alpha, world.alpha, agent, SAMPLE.read_bytes())
    with pytest.raises(Forbidden):
        benefits.create_benefit(alpha, world.alpha, agent, BenefitInput(code="X", name="X", category="other"))


# --- screens -----------------------------------------------------------------------------------------------


def test_coverage_changes_ask_for_a_step_up_first(app, world, login, make_staff):
    with in_alpha(app, world) as session:
        product, glasses = make_product(session, world), make_benefit(session, world)
        public_id, code, product_code = product.public_id, glasses.code, product.code
    manager = make_staff(MANAGER)
    client = login(manager.email)
    url = f"/alpha/produits/{public_id}/couverture/{code}"
    assert 'value="80"' in client.get(url).get_data(as_text=True)

    bad = client.post(url, data={"rate_percent": "150", "frequency_count": "1"})
    body = bad.get_data(as_text=True)
    assert (
        bad.status_code == 422 and 'id="rate_percent-error"' in body and 'id="frequency_months-error"' in body
    )

    data = {"rate_percent": "100", "frequency_count": "1", "frequency_months": "24", "sex": ""}
    asked = client.post(url, data=data)
    assert asked.status_code == 303 and "/securite/confirmation/" in asked.headers["Location"]
    confirmation = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Modifier la couverture d" in confirmation
    assert "<dd>100 % (ticket modérateur 0 %), 1 tous les 24 mois</dd>" in confirmation

    def rows() -> list[tuple[bool, int]]:
        with in_alpha(app, world) as session:
            query = select(ProductBenefit.covered, ProductBenefit.rate_percent).join(Product)
            return [tuple(r) for r in session.execute(query.where(Product.code == product_code))]

    assert rows() == []
    token = step_up(client, asked, manager.next_code())
    assert client.post(url, data={**data, "_stepup": token}).status_code == 302
    assert rows() == [(True, 100)]
    page = client.get(f"/alpha/produits/{public_id}").get_data(as_text=True)
    assert "Lunettes" in page and "1 tous les 24 mois" in page

    excluded = client.post(f"{url}/exclure")
    assert excluded.status_code == 303 and rows() == [(True, 100)]
    token = step_up(client, excluded, manager.next_code())
    assert client.post(f"{url}/exclure", data={"_stepup": token}).status_code == 302
    assert rows() == [(False, 100)]


def test_the_catalogue_is_filtered_and_the_import_form_reports_every_rejected_line(
    app, world, login, make_staff
):
    token = unique("")
    with in_alpha(app, world) as session:
        make_benefit(session, world, category="dental", name=f"Détartrage {token}")
    client = login(make_staff(MANAGER, mfa_enrolled=False).email)
    listed = client.get(f"/alpha/produits/catalogue?category=dental&q={token}").get_data(as_text=True)
    assert f"Détartrage {token}" in listed and "Importer" in listed
    assert f"Détartrage {token}" not in client.get("/alpha/produits/catalogue?category=optical").get_data(
        as_text=True
    )

    upload = medicines_csv(["DCI;Forme;Dosage", f"Aciclovir {token};comprimé;200 mg", ";comprimé;1 mg"])
    response = client.post(
        "/alpha/produits/catalogue/import",
        data={"file": (io.BytesIO(upload), "essentiels.csv")},
        content_type="multipart/form-data",
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"<dt>Ajoutés</dt><dd>1</dd>", body) and re.search(r"<td>3</td><td>DCI : Indiquez", body)

    missing = client.post("/alpha/produits/catalogue/import", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and 'id="file-error"' in missing.get_data(as_text=True)

    added = client.post(
        "/alpha/produits/catalogue/nouveau",
        data={"code": f"cons-{token}", "name": "Consultation généraliste", "category": "consultation",
              "reference_price": "2 000"},
    )  # fmt: skip
    assert added.status_code == 302
    again = client.post(
        "/alpha/produits/catalogue/nouveau",
        data={"code": f"CONS-{token}", "name": "Autre", "category": "consultation"},
    )
    assert again.status_code == 422 and "déjà ce code" in again.get_data(as_text=True)


def test_an_association_agent_sees_the_catalogue_but_cannot_change_it(app, world, login, make_staff):
    with in_alpha(app, world) as session:
        product, glasses = make_product(session, world), make_benefit(session, world)
        public_id, code = product.public_id, glasses.code
    client = login(make_staff(AGENT, mfa_enrolled=False).email)
    page = client.get(f"/alpha/produits/catalogue?category=optical&q={code}").get_data(as_text=True)
    assert "Lunettes" in page and "Importer" not in page
    assert client.get(f"/alpha/produits/catalogue/{code}").status_code == 403
    assert client.post("/alpha/produits/catalogue/nouveau", data={"code": "X"}).status_code == 403
    assert client.post("/alpha/produits/catalogue/import", data={}).status_code == 403
    assert client.get(f"/alpha/produits/{public_id}/couverture/{code}").status_code == 403
    assert (
        client.post(
            f"/alpha/produits/{public_id}/couverture/{code}", data={"rate_percent": "100"}
        ).status_code
        == 403
    )
