"""The claims screens end to end through the web client: a provider's staff enters and submits an invoice
(their own provider only), outcomes and reasons shown in French, the médecin-conseil reviews the flagged
lines, the manager validates with a step-up, a payment batch with its bank and mobile-money files and a
statement per provider, and a CSV upload reporting its rejected rows (idempotent)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import TenantAuditEvent
from app.care.claims_models import CareInvoice, CareLine, CareRecord, InvoiceStatus
from app.care.models import PayoutMethod, ProviderUser
from app.extensions import db
from app.security.models import Account
from tenants.context import tenant_scope
from tests.app.care.test_invoices import TODAY, Care, build_care
from tests.fixtures.security import step_up

BASE = "/alpha/soins"


@contextmanager
def in_alpha(app: Any, world: Any) -> Any:
    with app.app_context(), tenant_scope(db.session, world.alpha):
        yield db.session
        db.session.commit()


@pytest.fixture
def care(app: Any, world: Any, monkeypatch: pytest.MonkeyPatch) -> Care:
    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY)
    with in_alpha(app, world) as session:
        built = build_care(session, world.alpha)
        built.provider.payout_method, built.provider.payout_account = PayoutMethod.wave, "+221770000001"
        return detached(session, built)


def detached(session: Any, built: Care) -> Care:
    """Loaded and out of the session, usable once its context is gone."""
    session.commit()
    objects = [
        built.provider,
        built.convention,
        built.product,
        built.principal,
        built.spouse,
        *built.benefits.values(),
        *built.rules.values(),
    ]
    for obj in objects:
        session.refresh(obj)
    session.expunge_all()
    return built


def provider_staff(app: Any, world: Any, make_staff: Any, care: Care) -> Any:
    staff = make_staff(("FED-A", "provider_staff"), mfa_enrolled=False)
    with app.app_context():
        account_id = db.session.scalar(select(Account.id).where(Account.email == staff.email))
    with in_alpha(app, world) as session:
        session.add(ProviderUser(provider_id=care.provider.id, account_id=account_id))
    return staff


def invoice_of(app: Any, world: Any, public_id: str) -> dict[str, Any]:
    with in_alpha(app, world) as session:
        invoice = session.scalar(select(CareInvoice).where(CareInvoice.public_id == public_id))
        lines = session.scalars(
            select(CareLine).join(CareRecord).where(CareRecord.invoice_id == invoice.id).order_by(CareLine.id)
        ).all()
        plain = [
            SimpleNamespace(
                id=ln.id,
                review_status=str(ln.review_status),
                outcome=str(ln.outcome),
                amount_accepted=ln.amount_accepted,
                member_share=ln.member_share,
            )
            for ln in lines
        ]
        return {
            "status": str(invoice.status),
            "accepted": invoice.amount_accepted,
            "lines": plain,
            "id": invoice.id,
            "number": invoice.number,
        }


def enter_invoice(client: Any, care: Care, records: list[tuple[str, str]]) -> str:
    created = client.post(
        f"{BASE}/saisie",
        data={"provider": care.provider.public_id, "period_start": "2027-03-01", "period_end": "2027-03-31"},
    )
    assert created.status_code == 303, created.get_data(as_text=True)[:500]
    public_id = created.headers["Location"].rsplit("/", 1)[1]
    for day, lines in records:
        added = client.post(
            f"{BASE}/saisie/{public_id}",
            data={
                "member_number": care.principal.number,
                "care_date": day,
                "lines": lines,
                "prescriber": "Dr Fall",
            },
        )
        assert added.status_code == 303, added.get_data(as_text=True)[:800]
    return public_id


def test_provider_enters_submits_then_review_validation_and_batch(
    app: Any, world: Any, login: Any, make_staff: Any, care: Care
) -> None:
    staff = provider_staff(app, world, make_staff, care)
    client = login(staff.email)
    cons, hosp, opt = (care.benefits[c].code for c in ("CONS", "HOSP", "OPT"))
    # a mistake is shown next to the field and nothing typed is lost
    public_id = enter_invoice(client, care, [])
    wrong = client.post(
        f"{BASE}/saisie/{public_id}",
        data={"member_number": care.principal.number, "care_date": "2027-03-05", "lines": "NOPE, 1, 100"},
    )
    page = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "inconnu du catalogue" in page and "NOPE, 1, 100" in page
    for day, lines in [
        ("2027-03-05", f"{cons}, 1, 3500\n{opt}, 1, 30000"),
        ("2027-03-06", f"{hosp}, 2, 15000"),
    ]:
        assert (
            client.post(
                f"{BASE}/saisie/{public_id}",
                data={"member_number": care.principal.number, "care_date": day, "lines": lines},
            ).status_code
            == 303
        )
    submitted = client.post(f"{BASE}/saisie/{public_id}/soumettre")
    assert submitted.status_code == 303
    state = invoice_of(app, world, public_id)
    assert state["status"] == "in_review"
    page = client.get(f"{BASE}/saisie/{public_id}").get_data(as_text=True)
    assert "Prix demandé supérieur au tarif conventionné" in page and "non couvert par le produit" in page
    assert "Plafond annuel du bénéficiaire atteint" in page
    # provider staff see neither the mutual's list nor the review queue
    assert client.get(f"{BASE}/factures").status_code == 403
    assert client.get(f"{BASE}/controle").status_code == 403

    adviser = make_staff(("FED-A", "medical_adviser"), mfa_enrolled=False)
    doctor = login(adviser.email)
    queue = doctor.get(f"{BASE}/controle").get_data(as_text=True)
    consult, _opt, hospital = state["lines"]
    assert f'data-line="{consult.id}"' in queue and f'data-line="{hospital.id}"' in queue
    assert doctor.post(f"{BASE}/controle/{consult.id}", data={"decision": "confirm"}).status_code == 303
    no_note = doctor.post(f"{BASE}/controle/{hospital.id}", data={"decision": "override", "amount": "24000"})
    assert no_note.status_code == 303 and invoice_of(app, world, public_id)["status"] == "in_review"
    assert (
        doctor.post(
            f"{BASE}/controle/{hospital.id}",
            data={"decision": "override", "amount": "24000", "note": "Hospitalisation justifiée"},
        ).status_code
        == 303
    )
    state = invoice_of(app, world, public_id)
    assert state["status"] == "checked" and state["accepted"] == 2400 + 24000
    _c, _o, hospital = state["lines"]
    assert (str(hospital.review_status), hospital.amount_accepted, hospital.member_share) == (
        "overridden",
        24000,
        6000,
    )

    manager = make_staff(("FED-A", "mutual_manager"))
    boss = login(manager.email)
    url = f"{BASE}/factures/{public_id}/valider"
    asked = boss.post(url)
    assert asked.status_code == 303 and "/securite/confirmation/" in asked.headers["Location"]
    assert invoice_of(app, world, public_id)["status"] == "checked"  # nothing before the code
    confirmation = boss.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Valider une facture de prestataire" in confirmation and state["number"] in confirmation
    token = step_up(boss, asked, manager.next_code())
    done = boss.post(url, data={"_stepup": token})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/factures/{public_id}")
    assert invoice_of(app, world, public_id)["status"] == "validated"
    with in_alpha(app, world) as session:
        actions = set(
            session.scalars(
                select(TenantAuditEvent.action).where(
                    TenantAuditEvent.target_id.in_([state["number"], str(hospital.id)])
                )
            )
        )
    assert {
        "care.invoice_submitted",
        "care.invoice_checked",
        "care.line_reviewed",
        "care.invoice_validated",
    } <= actions

    # payment batch: files and statement, then paid
    created = boss.post(f"{BASE}/lots")
    assert created.status_code == 303
    batch_url = created.headers["Location"]
    assert "LOT-2027-" in boss.get(batch_url).get_data(as_text=True)
    mobile = boss.get(f"{batch_url}/mobile-money.csv")
    rows = list(csv.reader(io.StringIO(mobile.get_data().decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["numero", "montant_xof", "operateur"]
    assert rows[1][:3] == ["+221770000001", "26400", "wave"]
    bank = boss.get(f"{batch_url}/virements.csv").get_data().decode("utf-8-sig")
    assert bank.splitlines()[1:] == []  # no provider paid by bank in this batch
    pdf = boss.get(f"{batch_url}/releve/{care.provider.public_id}.pdf")
    assert pdf.status_code == 200 and pdf.get_data()[:4] == b"%PDF"
    assert boss.post(f"{batch_url}/payer").status_code == 303
    assert invoice_of(app, world, public_id)["status"] == "paid"


def test_provider_staff_cannot_reach_another_providers_invoice(
    app: Any, world: Any, login: Any, make_staff: Any, care: Care
) -> None:
    agent = login(make_staff(("FED-A", "mutual_manager"), mfa_enrolled=False).email)
    public_id = enter_invoice(agent, care, [("2027-03-05", f"{care.benefits['CONS'].code}, 1, 3000")])
    with in_alpha(app, world) as session:
        other = detached(session, build_care(session, world.alpha))
    staff = provider_staff(app, world, make_staff, other)
    client = login(staff.email)
    assert client.get(f"{BASE}/saisie/{public_id}").status_code == 404
    assert client.post(f"{BASE}/saisie/{public_id}/soumettre").status_code == 404
    listing = client.get(f"{BASE}/saisie").get_data(as_text=True)
    assert public_id not in listing


def test_csv_upload_reports_rejected_rows_and_is_idempotent(
    app: Any, world: Any, login: Any, make_staff: Any, care: Care
) -> None:
    client = login(make_staff(("FED-A", "mutual_manager"), mfa_enrolled=False).email)
    public_id = enter_invoice(client, care, [])
    cons, hosp = care.benefits["CONS"].code, care.benefits["HOSP"].code
    content = "\n".join(
        [
            "reference;numero_membre;date_soins;code_acte;quantite;prix_unitaire;prescripteur",
            f"V1;{care.principal.number};2027-03-05;{cons};1;3000;Dr Sy",
            f"V1;{care.principal.number};2027-03-05;{hosp};1;15000;Dr Sy",
            f"V2;{care.principal.number};2027-03-07;INCONNU;1;100;Dr Sy",
            f"V3;NUMERO-FAUX;2027-03-08;{cons};1;3000;Dr Sy",
            f";{care.principal.number};2027-03-08;{cons};1;3000;Dr Sy",
        ]
    )

    def send() -> str:
        response = client.post(
            f"{BASE}/saisie/{public_id}/import",
            data={"file": (io.BytesIO(content.encode()), "prestations.csv")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 200
        return response.get_data(as_text=True)

    first = send()
    assert "Prestations ajoutées : 1" in first and "lignes rejetées : 3" in first
    assert "inconnu du catalogue" in first and "Référence manquante" in first and "invalide" in first
    second = send()
    assert "Prestations ajoutées : 0" in second and "déjà importées : 1" in second
    state = invoice_of(app, world, public_id)
    assert len(state["lines"]) == 2 and state["status"] == "draft"


def test_large_invoice_is_checked_by_the_job(
    app: Any, world: Any, login: Any, make_staff: Any, care: Care, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.care import invoice_views, tasks

    sent: list[Any] = []
    monkeypatch.setattr("app.care.invoices.INLINE_LINES", 0)
    monkeypatch.setattr(
        invoice_views, "enqueue_after_commit", lambda _s, task, *args: sent.append((task, args))
    )
    client = login(make_staff(("FED-A", "mutual_manager"), mfa_enrolled=False).email)
    public_id = enter_invoice(client, care, [("2027-03-05", f"{care.benefits['CONS'].code}, 1, 3000")])
    client.post(f"{BASE}/saisie/{public_id}/soumettre")
    state = invoice_of(app, world, public_id)
    assert state["status"] == "submitted" and sent == [(tasks.check_invoices, ([state["id"]],))]
    with app.app_context(), tenant_scope(db.session, world.alpha):
        result = tasks.check_invoices.run([state["id"]])
        db.session.commit()
    assert (
        result["accepted"] == 1 and invoice_of(app, world, public_id)["status"] == InvoiceStatus.checked.value
    )


def test_xlsx_upload(app: Any, world: Any, login: Any, make_staff: Any, care: Care) -> None:
    from openpyxl import Workbook

    client = login(make_staff(("FED-A", "mutual_manager"), mfa_enrolled=False).email)
    public_id = enter_invoice(client, care, [])
    book = Workbook()
    sheet = book.active
    sheet.append(["Reference", "Numero_membre", "Date_soins", "Code_acte", "Quantite", "Prix_unitaire"])
    sheet.append(["X1", care.principal.number, dt.date(2027, 3, 5), care.benefits["CONS"].code, 1, 3000])
    sheet.append(["X2", care.principal.number, dt.date(2027, 3, 6), care.benefits["CONS"].code, 1, "abc"])
    data = io.BytesIO()
    book.save(data)
    response = client.post(
        f"{BASE}/saisie/{public_id}/import",
        data={"file": (io.BytesIO(data.getvalue()), "prestations.xlsx")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert (
        response.status_code == 200 and "Prestations ajoutées : 1" in page and "Nombre entier attendu" in page
    )
    assert len(invoice_of(app, world, public_id)["lines"]) == 1
