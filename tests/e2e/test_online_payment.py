"""A real browser: a member opens the pay link on a phone, pays a due with the Sandbox provider (the page
plays the phone's approval), and once the worker has processed the provider's event the page shows the
payment with its receipt, and nothing is left to pay."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from payments.models import PaymentInbox
from payments.service import process_inbox_row
from payments.views import make_link_token
from tenants.context import tenant_scope
from tests.app.contributions.test_payments import add_due, business_date, make_household  # noqa: F401


def test_a_member_pays_a_due_with_the_sandbox_and_gets_a_receipt(
    browser,
    live_server,
    app,
    world,
    business_date,  # noqa: F811 - the fixture imported above
):
    with app.app_context(), tenant_scope(db.session, world.alpha):
        household = make_household(db.session, world)
        add_due(db.session, household, 1)
        with app.test_request_context("/"):
            token = make_link_token("alpha", household.public_id)

    phone = browser.new_page(viewport={"width": 360, "height": 740}, locale="fr-SN")
    phone.goto(f"{live_server}/alpha/payer/{token}")
    phone.get_by_role("button", name="Payer").click()
    phone.get_by_role("button", name="Approuver").click()
    phone.get_by_text("cours de confirmation").wait_for()

    # What the Celery worker does with the provider's event (run here, in the test, for a deterministic wait).
    with app.app_context(), tenant_scope(db.session, world.alpha):
        pending = db.session.scalars(select(PaymentInbox.id).where(PaymentInbox.processed_at.is_(None))).all()
        for inbox_id in pending:
            process_inbox_row(db.session, world.alpha, inbox_id)
        db.session.commit()

    phone.reload()
    phone.get_by_text("Payé — reçu n°").wait_for()
    href = phone.get_by_role("link", name="Télécharger le reçu (PDF)").get_attribute("href")
    receipt = phone.request.get(f"{live_server}{href}")
    assert receipt.ok and receipt.body()[:5] == b"%PDF-"
    phone.goto(f"{live_server}/alpha/payer/{token}")
    phone.get_by_text("Aucune cotisation à payer").wait_for()
