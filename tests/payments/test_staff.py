"""Online payments for staff: the filtered list, a payment's timeline in order, refunds (full and partial,
through the Sandbox, behind a step-up, reversed on the household's account), refused amounts next to the
field, exports behind a step-up with defused cells, and an association agent kept out."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select, update

from app.contributions.models import Payment, PaymentStatus
from app.extensions import db
from app.members.models import Member
from payments import service
from payments.models import OnlinePayment, OnlineStatus
from payments.providers.sandbox import SandboxProvider
from payments.staff_views import safe_cell
from tenants.context import tenant_scope
from tests.app.contributions.test_payments import Household, add_due, make_household
from tests.fixtures.app import SYSTEM
from tests.fixtures.security import step_up

BASE = "/alpha/paiements/en-ligne"


def _online(app: Flask, world, *, amount: int = 2000, approve: bool = True) -> tuple[Household, str]:
    """A household owing ``amount`` that paid it online through the Sandbox (or left it pending)."""
    with app.app_context(), app.test_request_context("/"), tenant_scope(db.session, world.alpha):
        household = make_household(db.session, world)
        add_due(db.session, household, 1, amount=amount)
        principal = db.session.get(Member, household.principal_id)
        payment = service.start_payment(db.session, world.alpha, SYSTEM, principal, amount, "sandbox")
        if approve:
            body, headers = SandboxProvider(world.alpha).answer(payment.provider_ref or "", True)
            row = service.receive_webhook(db.session, world.alpha, "sandbox", body, headers)
            assert row is not None
            service.process_inbox_row(db.session, world.alpha, row.id)
        db.session.commit()
        return household, payment.public_id


def _state(app: Flask, world, public_id: str) -> dict:
    with app.app_context(), tenant_scope(db.session, world.alpha):
        payment = db.session.scalar(select(OnlinePayment).where(OnlinePayment.public_id == public_id))
        linked = db.session.get(Payment, payment.contribution_payment_id)
        corrections = db.session.scalars(
            select(Payment).where(Payment.member_id == linked.member_id, Payment.corrects_id.is_not(None))
            .order_by(Payment.id)
        ).all()  # fmt: skip
        return {
            "status": payment.status, "refunded": payment.refunded_amount,
            "linked": (linked.status, linked.cancelled_reason),
            "corrections": [(c.amount, c.status) for c in corrections],
            "events": [(e.from_status, e.to_status, e.source.value) for e in payment.events],
        }  # fmt: skip


def test_the_list_filters_by_status_and_member_and_shows_totals(app, world, login, business_date):
    paid_household, paid = _online(app, world, amount=2000)
    pending_household, pending = _online(app, world, amount=3000, approve=False)
    client = login("manager.a@test.sn")
    everything = client.get(f"{BASE}/").get_data(as_text=True)
    assert paid in everything and pending in everything

    succeeded = client.get(f"{BASE}/?statut=succeeded").get_data(as_text=True)
    assert paid in succeeded and pending not in succeeded

    by_number = client.get(f"{BASE}/", query_string={"q": pending_household.number}).get_data(as_text=True)
    assert pending in by_number and paid not in by_number
    assert "<dd>1</dd>" in by_number  # the totals follow the filters
    none = client.get(f"{BASE}/?statut=succeeded&moyen=wave").get_data(as_text=True)
    assert paid not in none and "Aucun paiement en ligne." in none
    bad_day = client.get(f"{BASE}/?du=31/02/2026")
    assert bad_day.status_code == 200 and 'id="du-error"' in bad_day.get_data(as_text=True)


def test_a_payment_page_shows_its_timeline_in_order_with_the_receipt(app, world, login, business_date):
    _household, public_id = _online(app, world)
    page = login("manager.a@test.sn").get(f"{BASE}/{public_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    first, second = html.index("Créé → En attente"), html.index("En attente → Payé")
    assert first < second
    assert "<details><summary>" in html and "<pre>" in html
    assert "/alpha/cotisations/paiements/" in html and "/recu.pdf" in html
    assert 'data-status="succeeded"' in html


def test_a_full_refund_asks_for_a_step_up_then_cancels_the_receipt(
    app, world, login, make_staff, business_date
):
    _household, public_id = _online(app, world)
    manager = make_staff(("FED-A", "mutual_manager"))
    client = login(manager.email)
    url = f"{BASE}/{public_id}/rembourser"
    data = {"amount": "2000", "reason": "Double paiement"}
    asked = client.post(url, data=data)
    assert _state(app, world, public_id)["status"] is OnlineStatus.succeeded  # nothing before the code
    confirmation = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Rembourser un paiement en ligne" in confirmation
    token = step_up(client, asked, manager.next_code())

    done = client.post(url, data={**data, "_stepup": token})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"{BASE}/{public_id}")
    after = _state(app, world, public_id)
    assert after["status"] is OnlineStatus.refunded and after["refunded"] == 2000
    assert after["linked"] == (PaymentStatus.cancelled, "Double paiement")
    assert after["events"][-1] == ("succeeded", "refunded", "user")
    page = client.get(f"{BASE}/{public_id}").get_data(as_text=True)
    assert "Payé → Remboursé" in page and "Rembourser</button>" not in page


def test_partial_refunds_correct_the_receipt_then_cancel_it(app, world, login, make_staff, business_date):
    _household, public_id = _online(app, world)
    manager = make_staff(("FED-A", "mutual_manager"))
    client = login(manager.email)
    url = f"{BASE}/{public_id}/rembourser"
    data = {"amount": "500", "reason": "Trop perçu"}
    token = step_up(client, client.post(url, data=data), manager.next_code())
    assert client.post(url, data={**data, "_stepup": token}).status_code == 303
    after = _state(app, world, public_id)
    assert after["status"] is OnlineStatus.partially_refunded and after["refunded"] == 500
    assert after["linked"] == (PaymentStatus.cancelled, "Trop perçu")
    assert after["corrections"] == [(1500, PaymentStatus.valid)]
    assert 'value="1500"' in client.get(f"{BASE}/{public_id}").get_data(as_text=True)  # the rest by default

    data = {"amount": "1500", "reason": "Adhésion annulée"}
    token = step_up(client, client.post(url, data=data), manager.next_code())
    assert client.post(url, data={**data, "_stepup": token}).status_code == 303
    after = _state(app, world, public_id)
    assert after["status"] is OnlineStatus.refunded and after["refunded"] == 2000
    assert after["corrections"] == [(1500, PaymentStatus.cancelled)]
    assert [e[1] for e in after["events"][-2:]] == ["partially_refunded", "refunded"]


def test_a_refund_above_the_rest_is_refused_next_to_the_field(app, world, login, business_date):
    _household, public_id = _online(app, world)
    client = login("manager.a@test.sn")
    refused = client.post(f"{BASE}/{public_id}/rembourser", data={"amount": "2001", "reason": "Erreur"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="amount-error"' in html and "reste remboursable" in html
    no_reason = client.post(f"{BASE}/{public_id}/rembourser", data={"amount": "100", "reason": " "})
    assert no_reason.status_code == 422 and 'id="reason-error"' in no_reason.get_data(as_text=True)
    zero = client.post(f"{BASE}/{public_id}/rembourser", data={"amount": "0", "reason": "Erreur"})
    assert zero.status_code == 422 and 'id="amount-error"' in zero.get_data(as_text=True)
    assert _state(app, world, public_id)["status"] is OnlineStatus.succeeded


def test_a_pending_payment_cannot_be_refunded(app, world, login, business_date):
    _household, public_id = _online(app, world, approve=False)
    client = login("manager.a@test.sn")
    refused = client.post(f"{BASE}/{public_id}/rembourser", data={"amount": "100", "reason": "Erreur"})
    assert refused.status_code == 422 and "Seul un paiement réussi" in refused.get_data(as_text=True)


def test_the_export_needs_a_step_up_and_defuses_formulas(app, world, login, make_staff, business_date):
    household, public_id = _online(app, world)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        db.session.execute(
            update(Member).where(Member.id == household.principal_id).values(first_names='=HYPERLINK("x")')
        )
        db.session.commit()
    manager = make_staff(("FED-A", "mutual_manager"))
    client = login(manager.email)
    url = f"{BASE}/export.csv?q={household.number}"
    asked = client.post(url)
    assert asked.status_code == 303
    confirmation = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Exporter des données personnelles" in confirmation
    token = step_up(client, asked, manager.next_code())
    done = client.post(url, data={"_stepup": token})
    assert done.status_code == 200 and done.mimetype == "text/csv"
    text = done.get_data(as_text=True).lstrip("\ufeff")
    lines = text.splitlines()
    assert lines[0].startswith("paiement;cree_le;statut") and len(lines) == 2
    assert public_id in lines[1] and "'=HYPERLINK" in lines[1]
    assert client.post(url, data={"_stepup": token}).status_code == 303  # an approval serves once

    xlsx = client.post(f"{BASE}/export.xlsx?q={household.number}")
    token = step_up(client, xlsx, manager.next_code())
    book = client.post(f"{BASE}/export.xlsx?q={household.number}", data={"_stepup": token})
    assert book.status_code == 200 and book.data[:2] == b"PK"


def test_cells_are_defused():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("+221 77") == "'+221 77"
    assert safe_cell("-2") == "'-2" and safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("Diop") == "Diop" and safe_cell(2000) == 2000


def test_an_association_agent_cannot_refund_or_export(app, world, login, make_staff, business_date):
    _household, public_id = _online(app, world)
    agent = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    client = login(agent.email)
    assert client.get(f"{BASE}/{public_id}").status_code == 200  # payments.read: may look
    assert (
        client.post(f"{BASE}/{public_id}/rembourser", data={"amount": "1", "reason": "x"}).status_code == 403
    )
    assert client.post(f"{BASE}/export.csv").status_code == 403
    assert client.get(f"{BASE}/export.xlsx").status_code == 403
    assert _state(app, world, public_id)["status"] is OnlineStatus.succeeded


def test_refunding_needs_the_right_to_validate_the_receipt_too(app, world, business_date):
    from app.errors import DomainError
    from app.security.actor import Actor
    from payments import refunds
    from tests.fixtures.app import node

    _household, public_id = _online(app, world)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        refunder = Actor(
            account_id=None, label="refund only",
            scopes=((node("FED-A").path, frozenset({"payments.read", "payments.refund"})),),
        )  # fmt: skip
        payment = db.session.scalar(select(OnlinePayment).where(OnlinePayment.public_id == public_id))
        try:
            refunds.check_refund(db.session, refunder, payment, "100", "Erreur")
        except DomainError as refused:
            assert "valider les paiements" in str(refused.message)
        else:
            raise AssertionError("refused expected")


def test_a_provider_refusal_shows_next_to_the_amount_and_changes_nothing(
    app, world, login, make_staff, business_date, monkeypatch
):
    from payments.providers.base import ProviderError

    def refuse(self, provider_ref, amount, *, idempotency_key):
        raise ProviderError("solde marchand insuffisant")

    _household, public_id = _online(app, world)
    monkeypatch.setattr(SandboxProvider, "refund", refuse)
    manager = make_staff(("FED-A", "mutual_manager"))
    client = login(manager.email)
    url, data = f"{BASE}/{public_id}/rembourser", {"amount": "2000", "reason": "Double paiement"}
    token = step_up(client, client.post(url, data=data), manager.next_code())
    refused = client.post(url, data={**data, "_stepup": token})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="amount-error"' in html and "solde marchand insuffisant" in html
    after = _state(app, world, public_id)
    assert after["status"] is OnlineStatus.succeeded and after["linked"][0] is PaymentStatus.valid
