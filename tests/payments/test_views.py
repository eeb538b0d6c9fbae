"""The pay link end to end through the web client: owed dues, Sandbox approval, processing, receipt."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from payments.models import PaymentInbox
from payments.service import process_inbox_row
from payments.views import make_link_token
from tenants.context import tenant_scope
from tests.app.contributions.test_payments import add_due, make_household


def test_a_member_pays_through_the_link_and_gets_a_receipt(app, world, client, business_date):
    with app.app_context(), tenant_scope(db.session, world.alpha):
        household = make_household(db.session, world)
        add_due(db.session, household, 1)
        with app.test_request_context("/"):
            token = make_link_token("alpha", household.public_id)
    page = client.get(f"/alpha/payer/{token}")
    assert "Payer 2" in page.get_data(as_text=True)
    started = client.post(f"/alpha/payer/{token}", data={"provider": "sandbox"})
    assert started.status_code == 303 and "/alpha/paiements/sandbox/" in started.location
    phone = client.get(started.location)
    assert "Téléphone du membre (simulation)" in phone.get_data(as_text=True)
    back = client.post(started.location, data={"answer": "approve"})
    assert "/retour/" in back.location
    assert "cours de confirmation" in client.get(back.location).get_data(as_text=True)
    with app.app_context(), tenant_scope(db.session, world.alpha):  # the worker
        for row in db.session.scalars(select(PaymentInbox).where(PaymentInbox.processed_at.is_(None))).all():
            process_inbox_row(db.session, world.alpha, row.id)
        db.session.commit()
    done = client.get(back.location).get_data(as_text=True)
    assert "Payé — reçu n°" in done
    receipt = client.get(back.location.replace("/retour/", "/recu/"))
    assert receipt.mimetype == "application/pdf"
    assert "Aucune cotisation à payer" in client.get(f"/alpha/payer/{token}").get_data(as_text=True)


def test_a_bad_webhook_signature_is_400(client):
    assert (
        client.post(
            "/alpha/paiements/webhooks/sandbox", data=b"{}", headers={"Sandbox-Signature": "x"}
        ).status_code
        == 400
    )


def test_a_forged_link_is_404(client):
    assert client.get("/alpha/payer/forged").status_code == 404
